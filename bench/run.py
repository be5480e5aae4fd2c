"""make bench: the production profile measured on this machine. bench/README.md says more.

    .venv/bin/python bench/run.py                 # everything; writes bench/RESULTS.md
    .venv/bin/python bench/run.py --quick         # small counts, prints only
    .venv/bin/python bench/run.py --only http,pipeline
    .venv/bin/python bench/run.py --only inflight --quick
    .venv/bin/python bench/run.py --only usage --quick
    .venv/bin/python bench/run.py --only search --quick

It creates a database and a Redis key prefix of its own (BENCH_DATABASE_URL,
BENCH_REDIS_URL; 127.0.0.1 by default), runs `manage.py serve` on them, and
removes both at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stack import BenchStack  # noqa: E402

PARTS = ("pipeline", "inflight", "http", "gallery", "usage", "search", "render")
FULL = {
    "generations": 2000,
    "gallery_rows": 100_000,
    "usage_rows": 1_000_000,
    "search_rows": 1_000_000,
    "search_runs": 7,
    "seconds": 15,
    "warmup": 3,
    "runs": 15,
    "cost_runs": 300,
    "http_rounds": 3,
    "inflight": 10_000,
    "inflight_ready": (30, 120),
    "inflight_submits": 200,
    # After the last task can be ready: time for the results to be copied.
    "inflight_linger": 600,
    "inflight_window": 30,
}
QUICK = {
    "generations": 200,
    "gallery_rows": 5_000,
    "usage_rows": 20_000,
    "search_rows": 20_000,
    "search_runs": 3,
    "seconds": 4,
    "warmup": 1,
    "runs": 3,
    "cost_runs": 30,
    "http_rounds": 2,
    "inflight": 500,
    "inflight_ready": (5, 20),
    "inflight_submits": 40,
    "inflight_linger": 120,
    "inflight_window": 5,
}
CONNECTIONS = 64
PIPELINE_Q_WORKERS = os.environ.get("Q_WORKERS", "4")


class Table:
    """One table: what was measured, the figure, the target and whether it was met."""

    def __init__(self):
        self.rows: list[tuple[str, str, str, str]] = []

    def add(self, what: str, figure: str, target: str = "", met: bool | None = None) -> None:
        verdict = "" if met is None else ("met" if met else "MISSED")
        self.rows.append((what, figure, target, verdict))
        print(f"  {what}: {figure}" + (f"  [{target}: {verdict}]" if target else ""), flush=True)

    def markdown(self) -> str:
        lines = ["| measure | result | target | |", "|---|---|---|---|"]
        lines += [f"| {' | '.join(row)} |" for row in self.rows]
        return "\n".join(lines)

    def text(self) -> str:
        widths = [
            max(len(row[i]) for row in [("measure", "result", "target", ""), *self.rows])
            for i in range(4)
        ]
        header = ("measure", "result", "target", "")
        out = []
        for row in [header, *self.rows]:
            out.append(
                "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            )
        out.insert(1, "  ".join("-" * width for width in widths))
        return "\n".join(out)


def machine(stack: BenchStack) -> dict[str, str]:
    from django.db import connection

    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(
                line.split(":", 1)[1].strip() for line in info if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    client = stack.redis()
    redis_version = client.info("server")["redis_version"]
    client.close()
    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "Python": platform.python_version(),
        "PostgreSQL": postgres,
        "Redis": redis_version,
    }


def serve_config() -> str:
    from django.conf import settings

    return (
        f"gunicorn {settings.WEB_WORKERS} workers x {settings.WEB_THREADS} threads; "
        f"pipeline: {settings.Q_CLUSTERS} django-q2 cluster(s) x {PIPELINE_Q_WORKERS} workers; "
        f"inflight: {settings.POLLERS} poller(s), POLLER_CAPACITY {settings.POLLER_CAPACITY}, "
        f"POLLER_PROVIDER_CONCURRENCY {settings.POLLER_PROVIDER_CONCURRENCY}, "
        f"POLL_FIRST_SECONDS {settings.POLL_FIRST_SECONDS}, "
        f"POLL_MAX_SECONDS {settings.POLL_MAX_SECONDS}"
    )


def prepare(stack: BenchStack) -> None:
    """Migrate and collect statics as `make serve` does, then configure Django here."""
    env = {**os.environ, **stack.env}
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    os.environ.update(stack.env)  # DJANGO_SETTINGS_MODULE=bench.settings among them
    import django

    django.setup()


def bench_pipeline(stack, table, key, counts) -> list[str]:
    from bench import pipeline
    from playground.models import Generation

    count = counts["generations"]
    print(f"pipeline: {count} generations through createTask and the instant provider", flush=True)
    # The instant provider's work is mostly waiting on PostgreSQL: more
    # workers than cores overlap it (the local renderer wants one a core).
    # The burst of 2,000 on one key is all unfinished at once on a slow
    # machine: the limit is out of the way here, where the engine is measured.
    stack.serve(
        "web,worker,sweeper", Q_WORKERS=PIPELINE_Q_WORKERS, API_MAX_UNFINISHED_TASKS=str(10**9)
    )
    try:
        result = pipeline.run(stack.url, key, count)
    finally:
        stack.stop()
    table.add(
        f"pipeline: {count:,} instant generations, first submit to last success",
        f"{result.total_seconds:.1f} s ({count / result.total_seconds:.0f} generations/s; "
        f"submitted in {result.submit_seconds:.1f} s by 16 clients)",
        "< 60 s for 2,000",
        result.total_seconds < 60 * count / 2000,
    )
    table.add(
        "pipeline: submit to start, p50 / p99",
        f"{result.start_p50 * 1000:.0f} ms / {result.start_p99 * 1000:.0f} ms",
    )
    table.add(
        "pipeline: all succeeded, each charged once",
        f"{result.succeeded:,} of {count:,} succeeded; charged once: "
        f"{'yes' if result.charged_once else 'NO'}",
        "all, once",
        result.succeeded == count and result.charged_once,
    )
    return list(
        Generation.objects.filter(state=Generation.SUCCESS).values_list("task_id", flat=True)[:500]
    )


def bench_inflight(stack, table, counts, workdir: Path) -> str:
    """The poller with thousands in flight at a slow upstream; the timeline as markdown."""
    from django.conf import settings

    from bench import data, inflight

    count, ready = counts["inflight"], counts["inflight_ready"]
    workers = int(PIPELINE_Q_WORKERS)
    print(
        f"inflight: {count:,} generations at a loopback upstream answering in "
        f"{inflight.UPSTREAM_SECONDS:.0f} s, ready {ready[0]}-{ready[1]} s after submit",
        flush=True,
    )
    user, key = data.api_user("Benchmark inflight", "bench-inflight")
    result = inflight.run(
        stack,
        user,
        key,
        count=count,
        ready=ready,
        submits=counts["inflight_submits"],
        workers=workers,
        linger=counts["inflight_linger"],
        window=counts["inflight_window"],
        workdir=workdir,
    )
    seconds = inflight.seconds
    unseen, unsucceeded = count - result.seen, count - result.succeeded
    failures = ", ".join(f"{n} {code}" for code, n in sorted(result.fail_codes.items()))
    table.add(
        f"inflight: {count:,} generations at a 1 s upstream, ready {ready[0]}-{ready[1]} s "
        f"(poller: {result.capacity} at once, {result.per_provider} per provider; "
        f"{workers} workers)",
        f"{result.seen:,} seen ready by the poller, {result.succeeded:,} succeeded, "
        f"{result.failed:,} failed{f' ({failures})' if failures else ''}, in "
        f"{result.ran_s:.0f} s (bound {result.bound_s:.0f} s)",
        "all tracked",
        result.seen == count and result.failed == 0,
    )
    lag50, lag99 = inflight.quantiles(result.lags)
    _, wait99 = inflight.quantiles(result.claim_waits)
    _, send99 = inflight.quantiles(result.sends)
    table.add(
        "inflight: poll lag (the poll's arrival at the upstream - its next_poll_at), p50 / p99",
        f"{seconds(lag50)} / {seconds(lag99)} (max {seconds(max(result.lags, default=0))}; "
        f"{len(result.lags):,} polls; due -> claimed p99 {seconds(wait99)}, "
        f"claimed -> arrival p99 {seconds(send99)}; most overdue unclaimed poll "
        f"{seconds(result.most_overdue_s)}; {result.unsent_claims:,} claims given back unpolled)",
        "p99 < 5 s",
        lag99 < 5 and result.most_overdue_s < 5,
    )
    seen50, seen99 = inflight.quantiles(result.ready_to_seen, unseen)
    table.add(
        "inflight: ready upstream -> seen ready by the poller, p50 / p99",
        f"{seconds(seen50)} / {seconds(seen99)}",
    )
    done50, done99 = inflight.quantiles(result.ready_to_success, unsucceeded)
    target = settings.POLL_MAX_SECONDS + 5
    table.add(
        "inflight: ready upstream -> success (completed_at), p50 / p99",
        f"{seconds(done50)} / {seconds(done99)}"
        + (f" ({unsucceeded:,} not succeeded at the bound)" if unsucceeded else ""),
        f"p99 <= {target} s (POLL_MAX_SECONDS + 5)",
        done99 <= target,
    )
    queue50, queue99 = inflight.quantiles(result.queue_waits)
    copy50, copy99 = inflight.quantiles(result.copies)
    table.add(
        "inflight: seen ready -> a worker's claim (queue), then claim -> success (copy, "
        "store), p50 / p99",
        f"queue {seconds(queue50)} / {seconds(queue99)}; copy {seconds(copy50)} / "
        f"{seconds(copy99)}; {result.copy_rate:.1f} successes/s while copying",
    )
    table.add(
        "inflight: poller polls per second",
        f"{result.sustained_polls:.0f}/s sustained over the {result.polling_s:.0f} s "
        + (
            "until every task had been seen ready"
            if result.all_seen
            else "of the run (not every task was seen ready)"
        )
        + f", peak {result.peak_polls:.0f}/s in 10 s",
    )
    cores = result.cores
    peak = result.peak_cores
    table.add(
        "inflight: CPU while polling, cores (mean / busiest 10 s)",
        "; ".join(
            f"{name} {cores[group]:.2f} / {peak[group]:.2f}"
            for name, group in (
                ("poller", "poller"),
                ("workers", "workers"),
                ("database", "database"),
                ("loopback upstream", "upstream"),
                ("whole machine", "machine"),
            )
        )
        + f" (of {os.cpu_count()}); per poll: poller {result.poller_ms_per_poll:.1f} ms, "
        f"database {result.database_ms_per_poll:.1f} ms"
        + (
            "; the poller was saturated (one asyncio process: about one core is all it can use)"
            if peak["poller"] >= 0.95
            else ""
        ),
        "poller <= 1 core",
        cores["poller"] <= 1,
    )
    if result.submits is not None:
        submits = result.submits
        by = (
            f"sent upstream by the poller, {result.per_provider} at once per provider"
            if submits.by_poller
            else f"sent upstream by the workers: workers / latency = {submits.workers}/s"
        )
        table.add(
            "inflight: submits through the API at a 1 s upstream, createTask to handed upstream",
            f"{submits.count} in {submits.seconds:.1f} s: {submits.rate:.1f}/s ({by}; the "
            f"createTask calls took {submits.api_seconds:.1f} s from 16 clients); each "
            f"p50 {seconds(submits.handed_p50)}, p99 {seconds(submits.handed_p99)}"
            + (f"; {submits.failed} failed" if submits.failed else ""),
        )
    table.add(
        "inflight: money",
        result.books_note,
        "each success charged once",
        result.books_balance,
    )
    table.add("inflight: where the limit is", result.limit)
    print("inflight, the same with upstream callbacks", flush=True)
    called = inflight.run(
        stack,
        user,
        key,
        count=count,
        ready=ready,
        submits=0,
        workers=workers,
        linger=counts["inflight_linger"],
        window=counts["inflight_window"],
        workdir=workdir,
        callbacks=True,
    )
    back50, back99 = inflight.quantiles(called.callback_to_success, count - called.succeeded)
    table.add(
        "inflight with upstream callbacks: the upstream's callback -> success, p50 / p99",
        f"{seconds(back50)} / {seconds(back99)} ({called.callbacks:,} callbacks, "
        f"{called.callbacks_refused:,} not answered 200; {called.succeeded:,} of {count:,} "
        f"succeeded in {called.ran_s:.0f} s)",
        "p99 < 2 s",
        back99 < 2 and called.succeeded == count,
    )
    done50, done99 = inflight.quantiles(called.ready_to_success, count - called.succeeded)
    queue50, queue99 = inflight.quantiles(called.queue_waits)
    lag50, lag99 = inflight.quantiles(called.lags)
    table.add(
        "inflight with upstream callbacks: ready -> success; seen ready -> a worker's claim; "
        "poll lag; p50 / p99",
        f"{seconds(done50)} / {seconds(done99)}; queue {seconds(queue50)} / "
        f"{seconds(queue99)}; lag {seconds(lag50)} / {seconds(lag99)}; poller "
        f"{called.cores['poller']:.2f} cores",
    )
    for line in result.log_lines:
        print(f"  serve log: {line}", flush=True)
    timeline = inflight.timeline_markdown(result)
    print(timeline, flush=True)
    return timeline


def bench_http(stack, table, key, account_keys, many_keys, task_ids, counts, workdir: Path) -> None:
    from bench import load
    from bench.pipeline import BODY

    seconds, warmup, rounds = counts["seconds"], counts["warmup"], counts["http_rounds"]
    files = {
        "ids": ("\n".join(task_ids), workdir / "task-ids.txt"),
        "one": ("\n".join(account_keys), workdir / "account-keys.txt"),
        "many": ("\n".join(many_keys), workdir / "many-keys.txt"),
        "body": (json.dumps(BODY), workdir / "create.json"),
    }
    for text, path in files.values():
        path.write_text(text + "\n")
    path = {name: str(path) for name, (_, path) in files.items()}
    calls = {
        "ceiling": ["ceiling"],
        "floor: read": ["floor-read", "-", path["ids"]],
        "recordInfo": ["record", key, path["ids"]],
        "floor: write": ["floor-write"],
        "createTask": ["create", path["one"], path["body"]],
        "createTask, many accounts": ["create", path["many"], path["body"]],
    }
    # The floors (bench/views.py): the least a status read and a
    # create could cost on this storage, whatever the code around them.
    round_order = ("ceiling", "floor: read", "recordInfo", "floor: write", "createTask")
    print(
        f"http: wrk, {CONNECTIONS} connections, {seconds} s per run, "
        f"{rounds} rounds of {', '.join(round_order)}",
        flush=True,
    )
    # Web only: no workers draining the queue beside the server under test.
    stack.serve("web")
    # Rounds, each API run right after a ceiling run: this machine's speed
    # drifts from minute to minute, so each ratio compares runs a few
    # seconds apart and the table gives the median round.
    runs: dict[str, list] = {name: [] for name in calls}
    ratios: dict[str, list[float]] = {name: [] for name in calls}
    try:
        order = [name for _ in range(rounds) for name in round_order]
        for name in [*order, "ceiling", "createTask, many accounts"]:
            run = load.measure(
                stack.url, calls[name], seconds=seconds, warmup=warmup, database_dsn=stack.dsn
            )
            runs[name].append(run)
            if name == "ceiling":
                ceiling = run
            else:  # to the ceiling of its own round
                ratios[name].append(100 * run.load.rps / ceiling.load.rps)
            print(f"  {name}: {describe(run)}", flush=True)
    finally:
        stack.stop()

    ceilings = runs["ceiling"]
    table.add(f"ceiling: bare JSON view, {CONNECTIONS} clients", describe(median_run(ceilings)))
    for name, title, share in (
        ("floor: read", "floor: one SELECT by task id (raw SQL, no key)", None),
        ("recordInfo", "recordInfo", 50),
        ("floor: write", "floor: one INSERT and the account's UPDATE, one commit", None),
        ("createTask", f"createTask, one account ({len(account_keys)} keys)", 25),
        ("createTask, many accounts", f"createTask, {len(many_keys)} accounts in turn", None),
    ):
        ratio = sorted(ratios[name])[len(ratios[name]) // 2]
        run = median_run(runs[name])
        clean = all(r.load.non_2xx == 0 and r.load.socket_errors == 0 for r in runs[name])
        spread = (
            f" (rounds: {', '.join(f'{r:.1f}' for r in ratios[name])})"
            if len(ratios[name]) > 1
            else ""
        )
        table.add(
            f"{title}, {CONNECTIONS} clients",
            f"{describe(run)}; {ratio:.1f} % of the ceiling{spread}",
            f">= {share} % of ceiling, p99 < 100 ms" if share else "",
            ratio >= share and run.load.p99_ms < 100 and clean if share else None,
        )


def describe(run) -> str:
    figures = run.load
    text = f"{figures.rps:,.0f} req/s, p50 {figures.p50_ms:.1f} ms, p99 {figures.p99_ms:.1f} ms"
    if run.machine_cpu_ms is not None:
        text += f", {run.machine_cpu_ms:.2f} ms machine CPU per request"
    if figures.non_2xx or figures.socket_errors:
        text += f" ({figures.non_2xx} non-2xx, {figures.socket_errors} socket errors)"
    return text


def median_run(runs: list):
    return sorted(runs, key=lambda run: run.load.rps)[len(runs) // 2]


def bench_cost(table, key, task_ids, counts) -> None:
    from bench import cost
    from bench.pipeline import BODY

    print("cost: CPU per request in one process (Django test client)", flush=True)
    costs = cost.measure(key, task_ids[0], BODY, runs=counts["cost_runs"])
    bare = costs[0].cpu_ms
    for row in costs:
        table.add(
            f"one process, one thread: {row.name}",
            f"{row.cpu_ms:.2f} ms CPU per request ({row.cpu_ms / bare:.1f}x the bare view), "
            f"{row.wall_ms:.2f} ms wall, {row.statements} SQL statements",
        )


def bench_gallery(table, counts) -> str:
    from bench import gallery

    count = counts["gallery_rows"]
    print(f"gallery: {count:,} generations in one team", flush=True)
    started = time.perf_counter()
    team, members = gallery.populate(count)
    print(f"  inserted in {time.perf_counter() - started:.1f} s", flush=True)
    pages, plan = gallery.measure(team, members, runs=counts["runs"])
    full, lone = pages[0], pages[-1]
    for page in pages:
        table.add(
            f"gallery at {count:,}: {page.name}",
            f"{page.p50_ms:.1f} ms median, {page.max_ms:.1f} ms max, {page.queries} queries, "
            f"slowest {page.slowest_ms:.1f} ms ({describe_query(page.slowest_sql)})"
            + ("" if page.status == 200 else f" (HTTP {page.status})"),
        )
    table.add(
        "gallery: queries for 24 cards vs 1 card (N+1 check)",
        f"{full.queries} vs {lone.queries}",
        "equal (no N+1)",
        full.queries == lone.queries,
    )
    return plan


def bench_usage(table, counts) -> None:
    from bench import usage

    count = counts["usage_rows"]
    print(f"usage: {count:,} generations in one team of {usage.MEMBERS}", flush=True)
    team, members, seconds = usage.populate(count)
    rows = ", ".join(f"{name} {count:,}" for name, count in usage.rollup_rows(team).items())
    print(
        f"  generations written in {seconds['generations']:.1f} s, the rollups counted in "
        f"{seconds['rollup']:.1f} s (rows: {rows})",
        flush=True,
    )
    pages = usage.measure(team, members, runs=counts["runs"])
    for page in pages:
        table.add(
            f"usage at {count:,}: {page.name}",
            f"{page.p50_ms:.1f} ms median, {page.max_ms:.1f} ms max, {page.queries} queries, "
            f"slowest {page.slowest_ms:.1f} ms ({describe_query(page.slowest_sql)})"
            + ("" if page.status == 200 else f" (HTTP {page.status})"),
            "< 100 ms median",
            page.p50_ms < 100 and page.status == 200,
        )
    table.add(
        "usage: queries for the big team vs a team of 1 generation",
        f"{pages[0].queries} vs {pages[-1].queries}",
        "equal",
        pages[0].queries == pages[-1].queries,
    )
    table.add(
        f"usage at {count:,}: rollup rows",
        f"{rows}; written in {seconds['generations']:.0f} s (generations) + "
        f"{seconds['rollup']:.0f} s (rollups)",
    )


def describe_query(sql: str) -> str:
    """A few words for a gallery query: which table, and how it reads it."""
    words = []
    if "playground_usage" in sql:
        words.append("the usage rollup")
    elif "GROUP BY" in sql:
        words.append("per-member totals")
    elif "playground_generation" in sql.split(" FROM ", 1)[-1][:40]:
        words.append("the page of generations")
    else:
        table = sql.split(" FROM ", 1)[-1].split()[0].strip('"') if " FROM " in sql else "?"
        words.append(table)
    if "LIKE" in sql.upper():
        words.append("prompt search")
    return ", ".join(words)


def bench_search(table, counts) -> str:
    """Prompt search at 1,000,000 generations (bench/search.py); the plans as a section."""
    from bench import search

    count = counts["search_rows"]
    print(f"search: {count:,} generations of {search.MEMBERS} members in one team", flush=True)
    team, members, seconds = search.populate(count)
    print(f"  inserted in {seconds:.1f} s", flush=True)
    pages, plans = search.measure(team, members, runs=counts["search_runs"])
    search.report(table, count, seconds, pages)
    return f"PostgreSQL's plans for the prompt search's page query:\n\n```\n{plans}\n```"


def bench_render(table) -> None:
    print("render: bench/render.py --json (one CPU)", flush=True)
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "render.py"), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for row in result["rows"]:
        table.add(
            f"local renderer: 5 s clip at {row['resolution']} ({row['width']}x{row['height']})",
            f"{row['render_s']:.2f} s; plain PyAV encoding {row['encode_s']:.2f} s "
            f"(ratio {row['ratio']:.2f})",
        )


RESULTS = ROOT / "bench" / "RESULTS.md"
# RESULTS.md holds one section per run, each marked with the parts it measured.
SECTION = re.compile(r"<!-- parts: ([a-z,]+) -->\n.*?<!-- end -->\n", re.DOTALL)


def write_results(
    table: Table, facts: dict, load_before: float, plan: str, sections: list[str], parts: set
) -> None:
    """This run's section in RESULTS.md, in place of earlier sections of the same parts.

    A run of some parts (--only) keeps the sections of the other parts, each
    with its own date and machine, so one part can be measured again alone.
    """
    busy = load_before > 0.5
    measured = [part for part in PARTS if part in parts]
    lines = [
        f"<!-- parts: {','.join(measured)} -->",
        f"## {', '.join(measured)}",
        "",
        f"Written by `make bench` ({' '.join(['bench/run.py', *sys.argv[1:]])}) on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
        "| machine | |",
        "|---|---|",
        *[f"| {name} | {value} |" for name, value in facts.items()],
        "",
        f"Load average before the run: {load_before:.2f}"
        + (
            " — measured while the machine was busy (other work was running), so the "
            "figures are lower and noisier than on an idle machine."
            if busy
            else " (an idle machine)."
        ),
        "",
        table.markdown(),
        "",
    ]
    for section in sections:
        lines += [section, ""]
    if plan:
        head, _, body = plan.partition("\n\n")
        lines += [
            f"PostgreSQL's plan for the gallery's {head}, EXPLAIN ANALYZE:",
            "",
            "```",
            body,
            "```",
            "",
        ]
    lines.append("<!-- end -->\n")
    earlier = RESULTS.read_text() if RESULTS.exists() else ""
    kept = [
        match.group(0)
        for match in SECTION.finditer(earlier)
        if not set(match.group(1).split(",")) & set(measured)
    ]
    RESULTS.write_text(
        "# Benchmark results\n\n"
        "One section per run of `make bench`: a run of some parts (`--only`) replaces the "
        "sections of those parts and keeps the others.\n\n" + "\n".join(["\n".join(lines), *kept])
    )
    print("wrote bench/RESULTS.md")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts; prints only")
    parser.add_argument("--only", default=",".join(PARTS), help=f"some of {','.join(PARTS)}")
    parser.add_argument("--write", action="store_true", help="write RESULTS.md even with --quick")
    args = parser.parse_args()
    parts = {part.strip() for part in args.only.split(",") if part.strip()}
    if parts - set(PARTS):
        parser.error(f"--only: use some of {', '.join(PARTS)}")
    counts = QUICK if args.quick else FULL
    load_before = os.getloadavg()[0]

    table = Table()
    plan = ""
    sections: list[str] = []
    stack = BenchStack().create()
    try:
        print(f"bench database {stack.database}, Redis prefix {stack.prefix}", flush=True)
        prepare(stack)
        from bench import data

        facts = machine(stack)
        facts["serve"] = serve_config()
        data.use_instant_provider()
        user, key = data.api_user("Benchmark", "bench")
        # createTask on one account goes through 64 keys of that account, as
        # a team's many clients would: each key's unfinished tasks (nothing
        # drains the queue during the HTTP runs) stay under the default
        # API_MAX_UNFINISHED_TASKS, which the server keeps, as its count
        # reads up to that many rows on every create.
        account_keys = [key, *data.more_keys(user, 63)]
        # createTask spread over many accounts: no two requests race for one balance.
        many_keys = [data.api_user(f"Benchmark {n}", f"bench{n}")[1] for n in range(64)]
        task_ids: list[str] = []
        if "pipeline" in parts or "http" in parts:
            # recordInfo reads finished generations, so the pipeline goes first.
            task_ids = bench_pipeline(stack, table, key, counts)
        if "inflight" in parts:
            # Before http: it leaves no worker, poller or sweeper running,
            # only rows that no later part reads.
            with tempfile.TemporaryDirectory() as tmp:
                sections.append(bench_inflight(stack, table, counts, Path(tmp)))
        if "http" in parts:
            with tempfile.TemporaryDirectory() as tmp:
                bench_http(stack, table, key, account_keys, many_keys, task_ids, counts, Path(tmp))
            bench_cost(table, key, task_ids, counts)
        if "gallery" in parts:
            plan = bench_gallery(table, counts)
        if "usage" in parts:
            bench_usage(table, counts)
        if "search" in parts:
            sections.append(bench_search(table, counts))
        if "render" in parts:
            bench_render(table)
    finally:
        if "DJANGO_SETTINGS_MODULE" in os.environ:
            from django.db import connections

            connections.close_all()
        stack.close()
        print(f"removed database {stack.database} and Redis keys {stack.prefix}*", flush=True)

    print()
    print(table.text())
    if not args.quick or args.write:
        # The pipeline runs whenever the http part does: its figures come too.
        measured = parts | ({"pipeline"} if "http" in parts else set())
        write_results(table, facts, load_before, plan, sections, measured)
    return 0


if __name__ == "__main__":
    sys.exit(main())
