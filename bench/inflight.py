"""inflight: thousands of generations running at a slow upstream, tracked by the poller.

The upstream is bench/jobs_upstream.py in a process of its own: the jobs
contract, every answer after 1 s, each task ready a random 30-120 s after it
was created. The generations are put in flight the way the engine leaves
them after an accepted submit: their tasks are created at the upstream
(createTask, concurrently, from here), then their rows written straight to
the database, `generating` with the upstream's task id, the first poll due
POLL_FIRST_SECONDS later and their credits held on the ledger. The
thousands do not go through the API: what is measured here is tracking
them, and 10,000 createTask calls would measure the API (the http part
does) and take the CPU the poller needs. The submit path (createTask, then
the submit upstream by the poller, or by the workers when no poller runs,
one waiting worker per submit) is measured apart, on a few hundred.

Then `manage.py serve` runs the workers, the sweeper and the poller, and
what happens is read from three clocks of this one machine:

- the upstream's log: when each task was ready, when each status call
  arrived and what it answered, each download of a result;
- the claims: a trigger this benchmark adds to its own database writes, at
  every claim of a generation (a new lease holder), the holder, the
  claimed row's next_poll_at (when that poll was due) and the claim's time;
- the generations: completed_at, state, charge.

Poll lag is the upstream's arrival time of a poll minus the next_poll_at of
the claim it was sent under (each poll arrives after its own claim and
before the next one of that generation). The run ends when every
generation has finished or at a time bound, whichever comes first.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Min, Sum
from django.urls import reverse
from django.utils import timezone

from accounts import ledger
from accounts.models import ZERO, ApiKey, CreditAccount, CreditHold, LedgerEntry
from accounts.teams import wallet_of
from bench.pipeline import BODY, percentile, submit_all
from bench.processes import CpuMeter, command_line, descendants, snapshot
from bench.stack import ROOT, BenchStack, free_port
from playground import catalog, lifecycle, services
from playground.models import Generation, GenerationEvent, Provider
from playground.providers import wakeup

UPSTREAM_SECONDS = 1.0
# A result file's first byte: results come from a CDN or a bucket, not the API.
FILE_SECONDS = 0.1
# Rows written per transaction; the upstream tasks of a chunk are created
# just before it, so no task ages long at the upstream before its row exists.
CHUNK = 1000
# Tasks created at the upstream at once. Several small httpx pools rather
# than one large one: httpx's pool costs CPU per request that grows with its
# connections (on this machine one client with 200 connections spent 19 ms
# of CPU a request, 20 clients of 25 spent 1.1 ms).
CREATE_CLIENTS = 20
CREATE_CONNECTIONS = 25
# Every claim of a generation, logged by the database itself (see the docstring).
CLAIM_LOG = """
CREATE TABLE bench_claim (
    generation_id bigint NOT NULL,
    holder text NOT NULL,
    due timestamptz,
    claimed_at timestamptz NOT NULL
);
CREATE FUNCTION bench_log_claim() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench_claim VALUES (NEW.id, NEW.lease_holder, OLD.next_poll_at, clock_timestamp());
    RETURN NULL;
END $$;
CREATE TRIGGER bench_log_claim AFTER UPDATE OF lease_holder ON playground_generation
    FOR EACH ROW
    WHEN (NEW.lease_holder <> '' AND NEW.upstream_ref <> ''
          AND OLD.lease_holder IS DISTINCT FROM NEW.lease_holder)
    EXECUTE FUNCTION bench_log_claim();
"""
DROP_CLAIM_LOG = """
DROP TRIGGER IF EXISTS bench_log_claim ON playground_generation;
DROP FUNCTION IF EXISTS bench_log_claim();
DROP TABLE IF EXISTS bench_claim;
"""


# The loopback upstream


def sample_mp4() -> bytes:
    """A real H.264 MP4: 64x64, 1 s at 10 fps (as tests/contract/fakes.py makes one)."""
    import av
    import numpy as np

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        for index in range(10):
            pixels = np.full((64, 64, 3), index * 20, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())
    return buffer.getvalue()


@dataclass
class Events:
    """What the upstream saw, in seconds since the epoch."""

    created: dict[str, float] = field(default_factory=dict)
    ready: dict[str, float] = field(default_factory=dict)
    # taskId -> [(arrived, answered, answered success)], in arrival order
    polls: dict[str, list[tuple[float, float, bool]]] = field(default_factory=dict)
    downloads: int = 0
    # taskId -> (when the upstream called back, the status our server answered)
    callbacks: dict[str, tuple[float, int]] = field(default_factory=dict)


class LoopbackUpstream:
    def __init__(self, workdir: Path, ready: tuple[float, float]) -> None:
        self.port = free_port()
        self.ready = ready
        self.video = workdir / "result.mp4"
        self.log = workdir / "upstream-events.jsonl"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LoopbackUpstream:
        self.video.write_bytes(sample_mp4())
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "jobs_upstream.py"),
                f"--port={self.port}",
                f"--delay={UPSTREAM_SECONDS}",
                f"--file-delay={FILE_SECONDS}",
                f"--ready={self.ready[0]},{self.ready[1]}",
                f"--video={self.video}",
                f"--log={self.log}",
            ],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the loopback upstream exited ({self.process.returncode})")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the loopback upstream did not listen within 30 s")

    def stop(self) -> Events:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # it writes its log, then exits
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        events = Events()
        if not self.log.exists():
            return events
        with open(self.log) as lines:
            for line in lines:
                kind, task, *values = json.loads(line)
                if kind == "task":
                    events.created[task], events.ready[task] = values
                elif kind == "poll":
                    events.polls.setdefault(task, []).append(tuple(values))
                elif kind == "callback":
                    events.callbacks[task] = tuple(values)
                else:
                    events.downloads += 1
        return events


async def create_upstream_tasks(url: str, callbacks: list[str | None]) -> list[str]:
    """createTask once per callback URL (None: no callback), in order, many at once."""
    task_ids: list[str] = [""] * len(callbacks)
    numbers = iter(range(len(callbacks)))

    async def send(client: httpx.AsyncClient) -> None:
        for number in numbers:
            body = BODY if callbacks[number] is None else {**BODY, "callBackUrl": callbacks[number]}
            answer = await client.post("/api/v1/jobs/createTask", json=body)
            task_ids[number] = answer.json()["data"]["taskId"]

    limits = httpx.Limits(
        max_connections=CREATE_CONNECTIONS, max_keepalive_connections=CREATE_CONNECTIONS
    )
    clients = [
        httpx.AsyncClient(base_url=url, timeout=60, limits=limits) for _ in range(CREATE_CLIENTS)
    ]
    try:
        await asyncio.gather(
            *(send(client) for client in clients for _ in range(CREATE_CONNECTIONS))
        )
    finally:
        for client in clients:
            await client.aclose()
    return task_ids


# Generations put in flight directly


def hold_in_bulk(account: CreditAccount, generations: list[Generation]) -> None:
    """Benchmark only: the holds ledger.hold() would write, for many generations at once.

    One hold and one ledger entry per generation, and one guarded UPDATE of
    the account for them all, in the caller's transaction: the account's
    held stays the sum of its entries' held_change, and every success can
    capture its hold as it would after a real submit.
    """
    CreditHold.objects.bulk_create(
        CreditHold(
            account=account,
            reference=g.hold_reference,
            amount=g.quoted_credits,
            member_id=g.owner_id,
            api_key_id=g.api_key_id,
        )
        for g in generations
    )
    LedgerEntry.objects.bulk_create(
        LedgerEntry(
            account=account,
            kind=LedgerEntry.HOLD,
            held_change=g.quoted_credits,
            reference=g.hold_reference,
            note=f"generation {g.task_id}",
            member_id=g.owner_id,
            api_key_id=g.api_key_id,
        )
        for g in generations
    )
    total = sum((g.quoted_credits for g in generations), ZERO)
    if not CreditAccount.objects.filter(pk=account.pk, balance__gte=F("held") + total).update(
        held=F("held") + total
    ):
        raise ledger.InsufficientCredits(total, ledger.available(account))


def put_in_flight(
    user, api_key: ApiKey, provider: Provider, upstream_url: str, count: int, base_url: str
) -> None:
    """`count` rows as the engine leaves them after an accepted submit, first poll in
    POLL_FIRST_SECONDS, their tasks created at the upstream just before.

    With a `base_url` (PUBLIC_BASE_URL of the stack), each task is created
    with its generation's upstream callback URL, as a submit gives it.
    """
    spec = catalog.get_spec(BODY["model"])
    normalized = catalog.validate(spec.id, BODY["input"])
    price = catalog.quote(spec.id, normalized)
    fingerprint = services.request_fingerprint("jobs", BODY["model"], BODY["input"], "")
    now = timezone.now()
    generations = [
        Generation(
            owner=user,
            team_id=user.profile.team_id,
            api_key=api_key,
            source=Generation.SOURCE_API,
            contract="jobs",
            model_id=spec.id,
            model_name=BODY["model"],
            input=normalized,
            request=BODY,
            quoted_credits=price.credits,
            price_breakdown=price.breakdown[:200],
            request_hash=fingerprint,
            deadline_at=now + timedelta(seconds=spec.timeout_seconds),
            state=Generation.GENERATING,
            started_at=now,
            attempts=1,
            provider=provider,
            next_poll_at=now + timedelta(seconds=settings.POLL_FIRST_SECONDS),
        )
        for _ in range(count)
    ]
    callbacks = [callback_url(base_url, g) if base_url else None for g in generations]
    task_ids = asyncio.run(create_upstream_tasks(upstream_url, callbacks))
    for generation, task_id in zip(generations, task_ids, strict=True):
        generation.upstream_ref = task_id
    with transaction.atomic():
        Generation.objects.bulk_create(generations)
        GenerationEvent.objects.bulk_create(
            event
            for g in generations
            for event in (
                GenerationEvent(generation=g, to_state=Generation.QUEUING, note=price.breakdown),
                GenerationEvent(
                    generation=g,
                    from_state=Generation.QUEUING,
                    to_state=Generation.GENERATING,
                    note="attempt 1",
                ),
                GenerationEvent(
                    generation=g,
                    from_state=Generation.GENERATING,
                    to_state=Generation.GENERATING,
                    note=f"submitted upstream as {g.upstream_ref}",
                ),
            )
        )
        hold_in_bulk(wallet_of(user), generations)


def callback_url(base_url: str, generation: Generation) -> str:
    """wakeup.callback_url() under the stack's PUBLIC_BASE_URL (the same SECRET_KEY)."""
    token = wakeup.token_for(generation.task_id)
    return base_url + reverse(
        "upstream-callback", kwargs={"task_id": generation.task_id, "token": token}
    )


# The submit limit


@dataclass(frozen=True)
class SubmitLimit:
    count: int
    workers: int
    by_poller: bool  # submitted upstream by the poller, not the workers
    api_seconds: float  # the createTask calls, first request to last answer
    seconds: float  # first created_at to last hand-off upstream
    handed_p50: float  # created_at to hand-off, each
    handed_p99: float
    failed: int

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


def measure_submits(stack: BenchStack, key: str, count: int, workers: int) -> SubmitLimit:
    """`count` createTask calls through the API, each then submitted upstream (1 s each).

    By the poller when one runs (services.submit leaves it the generations
    whose first provider it can drive), else by the workers, one waiting
    worker per submit.
    """
    roles = "web,worker,sweeper" + (",poller" if settings.POLLERS else "")
    stack.serve(roles, Q_WORKERS=str(workers))
    try:
        sent = time.perf_counter()
        task_ids = submit_all(stack.url, key, count, concurrency=16)
        api_seconds = time.perf_counter() - sent
        rows = Generation.objects.filter(task_id__in=task_ids)
        deadline = time.monotonic() + 120 + 3 * count * UPSTREAM_SECONDS / workers
        # Handed upstream (a reference that is not the submitting marker), or finished.
        while (
            rows.filter(state__in=Generation.UNFINISHED, upstream_ref="").count()
            + rows.filter(upstream_ref__startswith="submitting:").count()
        ):
            if time.monotonic() > deadline:
                states = dict(
                    rows.values_list("state").annotate(n=Count("pk")).values_list("state", "n")
                )
                raise RuntimeError(
                    f"submits still not handed upstream at the time bound: {states}\n"
                    + stack.log_tail()
                )
            time.sleep(0.5)
    finally:
        stack.stop()
    created = dict(rows.values_list("pk", "created_at"))
    handed = dict(
        GenerationEvent.objects.filter(
            generation_id__in=created, note__startswith="submitted upstream as"
        ).values_list("generation_id", "at")
    )
    failed = rows.filter(state=Generation.FAIL).count()
    # Nothing more of these: cancelled (their holds released) before the
    # thousands are put in flight, so the poller and the workers see those alone.
    for generation in rows.filter(state__in=Generation.UNFINISHED).select_related("provider"):
        services.cancel(generation)
    waits = [(handed[pk] - created[pk]).total_seconds() for pk in handed]
    span = (max(handed.values()) - min(created.values())).total_seconds() if handed else 0.0
    return SubmitLimit(
        count=count,
        workers=workers,
        by_poller=bool(settings.POLLERS),
        api_seconds=api_seconds,
        seconds=span,
        handed_p50=percentile(waits, 50) if waits else 0.0,
        handed_p99=percentile(waits, 99) if waits else 0.0,
        failed=failed,
    )


# The run


class StackProcesses:
    """The CpuMeter's classifier: the stack's processes by role, and the database's backends."""

    def __init__(self, serve_pid: int, upstream_pid: int, dsn: str) -> None:
        self.serve_pid = serve_pid
        self.upstream_pid = upstream_pid
        self.dsn = dsn
        self.commands: dict[int, str] = {}
        self.database: psycopg.Connection | None = None

    def __call__(self, processes) -> dict[int, str]:
        groups = {}
        for pid in descendants(self.serve_pid, processes):
            if pid not in self.commands:
                self.commands[pid] = command_line(pid)
            command = self.commands[pid]
            if "manage.py poller" in command:
                groups[pid] = "poller"
            elif "qcluster" in command:
                groups[pid] = "workers"
            elif "manage.py sweeper" in command:
                groups[pid] = "sweeper"
            else:
                groups[pid] = "serve"
        for pid in descendants(self.upstream_pid, processes):
            groups[pid] = "upstream"
        groups[os.getpid()] = "bench"
        # The PostgreSQL server may serve others too: only the backends of
        # this benchmark's database count (not this query's own).
        if self.database is None:
            self.database = psycopg.connect(self.dsn, autocommit=True)
        for (pid,) in self.database.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ):
            groups[pid] = "database"
        return groups

    def close(self) -> None:
        if self.database is not None:
            self.database.close()


@dataclass
class Claim:
    at: float  # when the database wrote the claim
    due: float | None  # the claimed row's next_poll_at
    holder: str

    @property
    def by_poller(self) -> bool:
        return ":poller:" in self.holder


@dataclass
class Window:
    """One slice of the run's timeline."""

    start: float  # seconds after the first row was written
    polled: int  # generations being polled at its end (in flight, not yet seen ready)
    polls_per_s: float
    lag_p50: float | None
    lag_p99: float | None
    successes: int
    cores: dict[str, float]


@dataclass
class InflightResult:
    count: int
    ready: tuple[float, float]
    workers: int
    capacity: int
    per_provider: int
    bound_s: float  # the run's time bound after the first row
    ran_s: float  # how long it ran after the first row
    succeeded: int
    failed: int
    fail_codes: dict[str, int]
    seen: int  # generations the poller saw ready
    polls: int  # poller polls answered during the run
    lags: list[float]  # each poller poll: upstream arrival - due
    claim_waits: list[float]  # each poller poll: claimed - due
    sends: list[float]  # each poller poll: upstream arrival - claimed
    unsent_claims: int  # poller claims with no poll after them
    ready_to_seen: list[float]
    ready_to_success: list[float]  # successes only
    callback_to_success: list[float]  # successes called back: the upstream's callback -> success
    callbacks: int  # callbacks the upstream sent
    callbacks_refused: int  # callbacks our server did not answer 200
    queue_waits: list[float]  # seen ready -> a worker's claim
    copies: list[float]  # a worker's claim -> success
    polling_s: float  # first row -> every generation seen ready (or the end)
    all_seen: bool  # every generation was seen ready before the end
    sustained_polls: float  # poller polls a second over the polling period
    peak_polls: float  # the most in any 10 s
    cores: dict[str, float]  # mean over the polling period
    peak_cores: dict[str, float]  # the most in any 10 s of the polling period
    poller_ms_per_poll: float
    database_ms_per_poll: float
    most_overdue_s: float  # the oldest due, unclaimed poll seen while the run went on
    books_balance: bool
    books_note: str
    copy_rate: float  # successes a second, first to last
    limit: str
    submits: SubmitLimit | None
    timeline: list[Window]
    window: float
    log_lines: list[str]


def run(
    stack: BenchStack,
    user,
    key: str,
    *,
    count: int,
    ready: tuple[float, float],
    submits: int,
    workers: int,
    linger: float,
    window: float,
    workdir: Path,
    callbacks: bool = False,
) -> InflightResult:
    upstream = LoopbackUpstream(workdir, ready)
    enabled = list(Provider.objects.filter(enabled=True).values_list("pk", flat=True))
    Provider.objects.update(enabled=False)
    # One row for the submits through the API and one for the generations
    # put in flight, so each set is told apart by its provider.
    submits_provider, provider = (
        Provider.objects.create(
            name=f"Loopback jobs upstream, {use}{', called back' if callbacks else ''} (benchmark)",
            kind=Provider.JOBS,
            base_url=upstream.url,
            credentials={"api_key": "bench-loopback-key"},
            priority=1,
            enabled=use == "submits",
        )
        for use in ("submits", "in flight")
    )
    api_key = ApiKey.objects.filter(user=user).order_by("pk").first()
    log_start = stack.log_path.stat().st_size if stack.log_path.exists() else 0
    meter = processes = None
    with connection.cursor() as cursor:
        cursor.execute(CLAIM_LOG)
    try:
        upstream.start()
        try:
            submit_limit = measure_submits(stack, key, submits, workers) if submits else None
            Provider.objects.filter(pk=submits_provider.pk).update(enabled=False)
            Provider.objects.filter(pk=provider.pk).update(enabled=True)
            if callbacks:  # the web role takes the callbacks
                stack.serve(
                    "web,worker,sweeper,poller", Q_WORKERS=str(workers), PUBLIC_BASE_URL=stack.url
                )
            else:
                stack.serve("worker,sweeper,poller", Q_WORKERS=str(workers))
            wait_for_poller(stack)
            processes = StackProcesses(stack.process.pid, upstream.process.pid, stack.dsn)
            meter = CpuMeter(processes).start()

            started = time.time()
            bound = started + ready[1] + linger
            print(f"  putting {count:,} generations in flight", flush=True)
            base_url = stack.url if callbacks else ""
            for first in range(0, count, CHUNK):
                size = min(CHUNK, count - first)
                put_in_flight(user, api_key, provider, upstream.url, size, base_url)
            print(f"  in flight after {time.time() - started:.1f} s; waiting", flush=True)
            most_overdue = watch(count, provider, started, bound)
            ended = time.time()
        finally:
            if meter is not None:
                meter.stop()
            if processes is not None:
                processes.close()
            stack.stop()
            events = upstream.stop()
        claims = read_claims()
    finally:
        with connection.cursor() as cursor:
            cursor.execute(DROP_CLAIM_LOG)
        Provider.objects.filter(pk__in=[submits_provider.pk, provider.pk]).update(enabled=False)
        # Left unfinished at the bound: out of the way of a later pass (its
        # pollers would ask an upstream that is gone).
        Generation.objects.filter(provider=provider).exclude(state__in=Generation.FINISHED).update(
            next_poll_at=timezone.now() + timedelta(days=1)
        )
        Provider.objects.filter(pk__in=enabled).update(enabled=True)
    log_lines = problems_in_log(stack.log_path, log_start)
    return analyse(
        provider=provider,
        user=user,
        events=events,
        claims=claims,
        meter=meter,
        started=started,
        ended=ended,
        bound=bound,
        most_overdue=most_overdue,
        count=count,
        ready=ready,
        workers=workers,
        submits=submit_limit,
        window=window,
        log_lines=log_lines,
    )


def wait_for_poller(stack: BenchStack, timeout: float = 60) -> None:
    """Until the poller process runs and has had time to load Django."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stack.process.poll() is not None:
            raise RuntimeError(f"serve exited:\n{stack.log_tail()}")
        found = [
            pid
            for pid in descendants(stack.process.pid, snapshot())
            if "manage.py poller" in command_line(pid)
        ]
        if found:
            time.sleep(3)
            return
        time.sleep(0.2)
    raise RuntimeError("the poller did not start")


def watch(count: int, provider: Provider, started: float, bound: float) -> float:
    """Until every generation finished or the bound; the most overdue unclaimed poll seen."""
    rows = Generation.objects.filter(provider=provider)
    most_overdue, last_print = 0.0, 0.0
    while True:
        time.sleep(2)
        now = timezone.now()
        oldest = rows.filter(lifecycle.poll_due(now)).aggregate(oldest=Min("next_poll_at"))[
            "oldest"
        ]
        if oldest is not None:
            most_overdue = max(most_overdue, (now - oldest).total_seconds())
        finished = rows.filter(state__in=Generation.FINISHED).count()
        if time.time() - last_print >= 10:
            last_print = time.time()
            print(
                f"  {last_print - started:5.0f} s: {finished:,} of {count:,} finished; "
                f"oldest unclaimed due poll {(now - oldest).total_seconds() if oldest else 0:.1f} "
                "s overdue",
                flush=True,
            )
        if finished >= count or time.time() > bound:
            return most_overdue


def read_claims() -> dict[int, list[Claim]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generation_id, holder, extract(epoch FROM due), extract(epoch FROM claimed_at)"
            " FROM bench_claim ORDER BY claimed_at"
        )
        claims: dict[int, list[Claim]] = {}
        for pk, holder, due_at, at in cursor.fetchall():
            claims.setdefault(pk, []).append(
                Claim(at=float(at), due=None if due_at is None else float(due_at), holder=holder)
            )
    return claims


def problems_in_log(path: Path, start: int, limit: int = 12) -> list[str]:
    """Warnings and errors the stack logged during the part (LOG_LEVEL is WARNING)."""
    if not path.exists():
        return []
    with open(path, "rb") as log:
        log.seek(start)
        lines = log.read().decode(errors="replace").splitlines()
    wanted = [line for line in lines if PROBLEM.search(line)]
    more = [f"... {len(wanted) - limit} more lines"] if len(wanted) > limit else []
    return wanted[:limit] + more


PROBLEM = re.compile(r"WARNING|ERROR|CRITICAL|Traceback|Exception|exited with", re.IGNORECASE)


# The figures


def analyse(
    *,
    provider,
    user,
    events: Events,
    claims,
    meter: CpuMeter,
    started,
    ended,
    bound,
    most_overdue,
    count,
    ready,
    workers,
    submits,
    window,
    log_lines,
) -> InflightResult:
    rows = list(
        Generation.objects.filter(provider=provider).values(
            "pk", "upstream_ref", "state", "fail_code", "completed_at", "created_at"
        )
    )
    lags, claim_waits, sends, unsent = [], [], [], 0
    poll_arrivals: list[tuple[float, float]] = []  # (arrival, lag) of each poller poll
    seen_at: dict[str, float] = {}
    queue_waits, copies, ready_to_seen, ready_to_success = [], [], [], []
    callback_to_success: list[float] = []
    fail_codes: dict[str, int] = {}
    for row in rows:
        task = row["upstream_ref"]
        # What happened while the stack was stopping (the poller finishes the
        # polls it has in flight) is past the run's end: left out.
        polls = [poll for poll in events.polls.get(task, []) if poll[0] <= ended]
        succeeded = row["state"] == Generation.SUCCESS and row["completed_at"].timestamp() <= ended
        arrivals = [arrived for arrived, _, _ in polls]
        mine = claims.get(row["pk"], [])
        # A claim given back unpolled (it waited too long for a slot) makes
        # the poll due again at once: the poll that finally goes out was due
        # when the first claim of that chain was.
        owed = None
        for number, claim in enumerate(mine):
            # The poll a claim sent: the first to arrive after it and before the next claim.
            until = mine[number + 1].at if number + 1 < len(mine) else float("inf")
            index = bisect_right(arrivals, claim.at)
            sent = arrivals[index] if index < len(arrivals) and arrivals[index] < until else None
            if not claim.by_poller or claim.due is None:
                continue
            due_at = claim.due if owed is None else owed
            if sent is None:
                unsent += 1
                owed = due_at
                continue
            owed = None
            lags.append(sent - due_at)
            claim_waits.append(claim.at - due_at)
            sends.append(sent - claim.at)
            poll_arrivals.append((sent, sent - due_at))
        first_done = next((answered for _, answered, done in polls if done), None)
        if first_done is not None:
            seen_at[task] = first_done
            ready_to_seen.append(first_done - events.ready[task])
            worker_claim = next(
                (c.at for c in mine if not c.by_poller and c.at >= first_done), None
            )
            if worker_claim is not None and worker_claim <= ended:
                queue_waits.append(worker_claim - first_done)
                if succeeded:
                    copies.append(row["completed_at"].timestamp() - worker_claim)
        if succeeded:
            ready_to_success.append(row["completed_at"].timestamp() - events.ready[task])
            if task in events.callbacks:
                called = events.callbacks[task][0]
                callback_to_success.append(row["completed_at"].timestamp() - called)
        elif row["state"] == Generation.FAIL:
            fail_codes[row["fail_code"]] = fail_codes.get(row["fail_code"], 0) + 1

    first_row = min((row["created_at"].timestamp() for row in rows), default=started)
    all_seen = len(seen_at) == len(rows) and seen_at
    polling_end = max(seen_at.values()) if all_seen else ended
    arrivals_sorted = sorted(at for at, _ in poll_arrivals)
    in_period = [at for at in arrivals_sorted if first_row <= at <= polling_end]
    polling_s = max(polling_end - first_row, 1e-9)
    peak_polls = 0.0
    for index, at in enumerate(arrivals_sorted):
        peak_polls = max(peak_polls, (bisect_right(arrivals_sorted, at + 10) - index) / 10)
    groups = ("poller", "workers", "database", "sweeper", "upstream", "bench", "machine")
    cores = {g: meter.cores(g, first_row, polling_end) for g in groups}
    peak_cores = {g: meter.peak(g, first_row, polling_end) for g in groups}
    poller_cpu = cores["poller"] * polling_s
    database_cpu = cores["database"] * polling_s

    successes = sorted(
        row["completed_at"].timestamp()
        for row in rows
        if row["state"] == Generation.SUCCESS and row["completed_at"].timestamp() <= ended
    )
    copy_rate = (len(successes) - 1) / (successes[-1] - successes[0]) if len(successes) > 1 else 0.0
    polled = len(in_period)
    poller_ms = 1000 * poller_cpu / polled if polled else 0.0
    books_ok, books_note = books(user, [row["pk"] for row in rows])
    timeline = make_timeline(
        rows=rows,
        events=events,
        seen_at=seen_at,
        poll_arrivals=poll_arrivals,
        meter=meter,
        start=first_row,
        end=ended,
        window=window,
    )
    return InflightResult(
        count=count,
        ready=ready,
        workers=workers,
        capacity=settings.POLLER_CAPACITY,
        per_provider=settings.POLLER_PROVIDER_CONCURRENCY,
        bound_s=bound - first_row,
        ran_s=ended - first_row,
        succeeded=len(successes),
        failed=sum(row["state"] == Generation.FAIL for row in rows),
        fail_codes=fail_codes,
        seen=len(seen_at),
        polls=len(poll_arrivals),
        lags=lags,
        claim_waits=claim_waits,
        sends=sends,
        unsent_claims=unsent,
        ready_to_seen=ready_to_seen,
        ready_to_success=ready_to_success,
        callback_to_success=callback_to_success,
        callbacks=len(events.callbacks),
        callbacks_refused=sum(status != 200 for _, status in events.callbacks.values()),
        queue_waits=queue_waits,
        copies=copies,
        polling_s=polling_s,
        all_seen=bool(all_seen),
        sustained_polls=len(in_period) / polling_s,
        peak_polls=peak_polls,
        cores=cores,
        peak_cores=peak_cores,
        poller_ms_per_poll=poller_ms,
        database_ms_per_poll=1000 * database_cpu / polled if polled else 0.0,
        most_overdue_s=most_overdue,
        books_balance=books_ok,
        books_note=books_note,
        copy_rate=copy_rate,
        limit=limit_text(poller_ms, cores["poller"], polled / polling_s, copy_rate, workers),
        submits=submits,
        timeline=timeline,
        window=window,
        log_lines=log_lines,
    )


def limit_text(
    poller_ms: float, poller_cores: float, polls_per_s: float, copy_rate: float, workers: int
) -> str:
    """What bounds polls and results, from the figures measured."""
    interval = settings.POLL_MAX_SECONDS + UPSTREAM_SECONDS
    slots = settings.POLLER_PROVIDER_CONCURRENCY / UPSTREAM_SECONDS
    one_core = 1000 / poller_ms if poller_ms else float("inf")
    ceiling = min(slots, one_core)
    bound_by = (
        f"the poller's one core ({poller_ms:.1f} ms of CPU a poll: {one_core:.0f} polls/s)"
        if one_core < slots
        else f"POLLER_PROVIDER_CONCURRENCY ({settings.POLLER_PROVIDER_CONCURRENCY} at once "
        f"at {UPSTREAM_SECONDS:.0f} s: {slots:.0f} polls/s)"
    )
    return (
        f"polls: at most about {ceiling:.0f}/s, bound by {bound_by}; at one poll every "
        f"{interval:.0f} s (POLL_MAX_SECONDS + the upstream's answer) that keeps about "
        f"{ceiling * interval:,.0f} in flight without lag (measured: {polls_per_s:.0f} polls/s "
        f"with the poller at {poller_cores:.2f} cores). Results: {copy_rate:.1f} a second, "
        f"each a worker of {workers} (a download, then probing and storing the video)"
    )


def timeline_markdown(result: InflightResult) -> str:
    """The run slice by slice: how lag follows the number of generations being polled."""
    lines = [
        f"The inflight run, in slices of {result.window:.0f} s from the first row written. "
        "Being polled: rows written whose task the poller had not yet seen ready. Lag: "
        "the polls that arrived at the upstream in the slice. Cores: mean in the slice.",
        "",
        "| t (s) | being polled | polls/s | lag p50 | lag p99 | successes "
        "| poller cores | workers cores | database cores |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for window in result.timeline:
        lag50 = "" if window.lag_p50 is None else f"{window.lag_p50:.1f} s"
        lag99 = "" if window.lag_p99 is None else f"{window.lag_p99:.1f} s"
        lines.append(
            f"| {window.start:.0f} | {window.polled:,} | {window.polls_per_s:.0f} | {lag50} "
            f"| {lag99} | {window.successes:,} | {window.cores['poller']:.2f} "
            f"| {window.cores['workers']:.2f} | {window.cores['database']:.2f} |"
        )
    return "\n".join(lines)


def books(user, pks: list[int]) -> tuple[bool, str]:
    """Every success charged its quote once, every other hold still open or released."""
    account = wallet_of(user)
    rows = Generation.objects.filter(pk__in=pks)
    succeeded = rows.filter(state=Generation.SUCCESS)
    unfinished = rows.filter(state__in=Generation.UNFINISHED)
    charged = succeeded.aggregate(s=Sum("charged_credits"))["s"] or ZERO
    quoted = succeeded.aggregate(s=Sum("quoted_credits"))["s"] or ZERO
    still_held = unfinished.aggregate(s=Sum("quoted_credits"))["s"] or ZERO
    refs = [f"generation:{task_id}" for task_id in rows.values_list("task_id", flat=True)]
    captured = CreditHold.objects.filter(reference__in=refs, state=CreditHold.CAPTURED).count()
    open_holds = CreditHold.objects.filter(reference__in=refs, state=CreditHold.OPEN).count()
    balance, held = ledger.totals_from_entries(account)
    ok = (
        charged == quoted
        and captured == succeeded.count()
        and open_holds == unfinished.count()
        and account.held == still_held == held
        and account.balance == balance
        and rows.exclude(state=Generation.SUCCESS).filter(charged_credits__gt=0).count() == 0
    )
    note = (
        f"{captured:,} holds captured for {succeeded.count():,} successes "
        f"({charged} of {quoted} quoted), {open_holds:,} open for {unfinished.count():,} unfinished"
        f"; account held {account.held}, entries {held}"
    )
    return ok, note


def make_timeline(
    *, rows, events, seen_at, poll_arrivals, meter, start, end, window
) -> list[Window]:
    created = sorted(row["created_at"].timestamp() for row in rows)
    seen = sorted(seen_at.values())
    completed = sorted(
        row["completed_at"].timestamp() for row in rows if row["state"] == Generation.SUCCESS
    )
    windows = []
    at = start
    while at < end:
        until = min(at + window, end)
        lags = [lag for arrived, lag in poll_arrivals if at <= arrived < until]
        windows.append(
            Window(
                start=at - start,
                polled=bisect_right(created, until) - bisect_right(seen, until),
                polls_per_s=len(lags) / max(until - at, 1e-9),
                lag_p50=percentile(lags, 50) if lags else None,
                lag_p99=percentile(lags, 99) if lags else None,
                successes=bisect_right(completed, until) - bisect_right(completed, at),
                cores={g: meter.cores(g, at, until) for g in ("poller", "workers", "database")},
            )
        )
        at = until
    return windows


def quantiles(values: Iterable[float], missing: int = 0) -> tuple[float, float]:
    """p50 and p99 of values, with `missing` more taken as longer than any (inf)."""
    values = list(values) + [float("inf")] * missing
    if not values:
        return float("nan"), float("nan")
    return percentile(values, 50), percentile(values, 99)


def seconds(value: float) -> str:
    if value != value:
        return "n/a"
    if value == float("inf"):
        return "unfinished"
    return f"{value:.1f} s"
