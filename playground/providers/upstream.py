"""What every upstream provider shares: one request, and what its answer means for us.

A provider module (jobs.py, kling.py, fal.py, ...) only says how its upstream
authenticates, where a submit and a poll go with which body, and how to read
its answers. The policy that decides what an answer means for the money and
the generation is here, once:

    submit                                               outcome
    no connection made (refused, DNS, connect timeout)   SubmitRefused
    4xx (401 key, 402 balance, 422 input, 429 rate ...)  SubmitRefused (Retry-After kept)
    5xx: the task may have been created before it        ambiguous *
    answer lost after the request went out (read         ambiguous *
      timeout, reset), or a 2xx the module cannot read
    2xx the module reads as accepted                     Running(reference, state)
    2xx the module reads as a refusal (an envelope       SubmitRefused
      code, Kling's 1102 "resource pack exhausted")

    * Failed(UPSTREAM_AMBIGUOUS), never sent again. A module whose upstream
      takes our own id (Kling's external_task_id) gives `lookup_call`: the
      task is then looked up by that id, and found it is polled as usual;
      not found after a 5xx answer, nothing was made and the submit is refused.

    poll
    network error, timeout, 5xx (not 501/505), 408,      PollError(retry_after=Retry-After)
      425, 429, 455, 401/403, a 2xx not readable
    404                                                  Failed(UPSTREAM_ERROR, "no task ...")
    any other 4xx (and 501, 505)                         Failed(UPSTREAM_ERROR, upstream's words)
    2xx: the module's reading                            Running / Succeeded / Failed
    a state word the module does not know               logged, Running (`unknown_state`)

Credentials go only where the module puts them (a header): every one of
them, and any token made from them, is cut out of every message built from
upstream text (`clean`), in case an upstream echoes them. Calls go to the
provider's own origin only; a URL an upstream hands out elsewhere is never
sent our credentials.
"""

from __future__ import annotations

import logging
import math
import re
from abc import abstractmethod
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings

from playground import outbound
from playground.models import Generation
from playground.providers import wakeup
from playground.providers.base import (
    BaseProvider,
    CheckFailed,
    Failed,
    Outcome,
    PollError,
    ProgressFn,
    Running,
    SubmitRefused,
    Succeeded,
)

log = logging.getLogger(__name__)

# Fail codes an upstream may give that mean the same here (DESIGN §4).
SHARED_FAIL_CODES = frozenset(
    {Generation.FailCode.CONTENT_VIOLATION, Generation.FailCode.INVALID_IMAGE_URL}
)

# Poll answers worth asking again: the task exists upstream and may still
# finish (and be paid for there). 401/403 too: an admin who fixes the key
# picks the task up again, and the error budget bounds the wait.
TRANSIENT_POLL_CODES = frozenset({401, 403, 408, 425, 429, 455})
# 5xx codes the jobs contract gives a final meaning: 501 generation failed,
# 505 feature disabled. Asking again cannot change them, and on a submit
# they say nothing was made.
FINAL_SERVER_CODES = frozenset({501, 505})

# Submit refusals of the input itself, not of the provider (breaker.py).
INPUT_REFUSALS = frozenset({400, 413, 415, 422})

# httpx errors (kept by outbound as the FetchError's __context__) raised
# before any byte of the request left: nothing can exist upstream.
_NOTHING_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

MAX_MESSAGE = 500
MAX_REFERENCE = 200  # Generation.upstream_ref
# An upstream asking us to wait longer than this is asked again sooner: the
# generation's deadline, not the upstream, bounds the wait.
MAX_RETRY_AFTER = 300.0
MAX_ANSWER_BYTES = 256 * 1024
HIDDEN_KEY = "[api key hidden]"
NO_REASON = "The upstream reported the generation failed without a reason."


@dataclass(frozen=True)
class Call:
    """One request to the upstream: a path under the base URL, or a URL on its origin."""

    path: str
    method: str = "GET"
    json: Any = None
    params: dict[str, str] | None = None
    data: dict[str, str] | None = None  # with `files`: a multipart form
    files: dict[str, Any] | None = None
    max_answer_bytes: int = MAX_ANSWER_BYTES
    # Seconds, when shorter than the provider's: a call made while an
    # upstream's own callback waits for our answer (a signing key).
    timeout: float | None = None


@dataclass(frozen=True)
class Answer:
    """An upstream's answer: its status, its body as JSON when it is JSON, its pace."""

    status: int
    body: Any  # the parsed JSON, or None
    retry_after: float | None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def object(self) -> dict[str, Any]:
        """The body when it is a JSON object, else an empty one."""
        return self.body if isinstance(self.body, dict) else {}


class Ambiguous(Exception):
    """The upstream may have made the task, but its answer does not say under which id."""


class Unsupported(ValueError):
    """An input the upstream cannot make as asked: refused before anything is sent."""


# A poll's steps: yields the calls to make, is sent their answers, returns the Outcome.
Steps = Generator["Call", "Answer", Outcome]
# Our input -> (the variant of the upstream's model it needs, the upstream's input).
Builder = Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]


class UpstreamProvider(BaseProvider):
    """An upstream API that takes a task, then answers polls about it.

    A module sets `kind`, `default_base_url` and `models` (its built-in table
    of our model ids to the upstream's names, overridden per row by
    `Provider.model_map`), and implements:

        submit_call(generation, model) -> Call
        accepted(answer, generation)   -> Running      a 2xx submit answer
        poll_call(generation, model)   -> Call
        read_status(answer, generation, workdir) -> Outcome   a 2xx poll answer
        error_message(answer)          -> str          the upstream's words in an error

        check_call()                   -> Call         a cheap authenticated request

    and where its upstream has them: `auth_headers`, `lookup_call` and
    `found`, `cancel_call`, `describe_check`, `download_headers`.
    """

    asynchronous = True
    submits_from_poller = True
    default_base_url = ""
    models: dict[str, Any] = {}
    # Seconds for the whole exchange (each network phase and the total). It
    # is also held under half the worker's lease: a submit still in flight
    # when the lease runs out would be taken for a dead worker's and failed
    # while the upstream may be accepting it.
    timeout = 30.0
    # How the module's messages name the task id its upstream answers with.
    id_name = "task id"
    accepted_status = "2xx"

    # What a module implements

    @abstractmethod
    def submit_call(self, generation: Generation, model: Any) -> Call:
        """The submit request for this generation, `model` from `upstream_model`."""

    @abstractmethod
    def accepted(self, answer: Answer, generation: Generation) -> Running:
        """Read a 2xx submit answer: Running, or raise Ambiguous or SubmitRefused."""

    @abstractmethod
    def poll_call(self, generation: Generation, model: Any) -> Call:
        """The status request for a generation the upstream accepted."""

    @abstractmethod
    def read_status(
        self, answer: Answer, generation: Generation, workdir: Path | None
    ) -> Outcome | Steps:
        """Read a 2xx status answer; raise PollError when it cannot be read.

        A reading that needs another call (fal's result after its status) is
        a generator: `answer = yield from self.ask(call)`, then return the Outcome.
        """

    def error_message(self, answer: Answer) -> str:
        """The upstream's own words in an error answer (a common JSON shape, or nothing).

        Never cut short here: a secret an upstream echoes must be whole when
        clean() looks for it; clean() caps the length after.
        """
        body = answer.object
        for name in ("message", "msg", "detail", "error", "title"):
            value = body.get(name)
            if isinstance(value, dict):
                value = value.get("message") or value.get("detail")
            if isinstance(value, str) and value.strip():
                # Whole: clean() cuts secrets out before it caps the length.
                return value.strip()
        return ""

    def auth_headers(self) -> dict[str, str]:
        key = self.row.api_key
        return {"Authorization": f"Bearer {key}"} if key else {}

    def secrets(self) -> list[str]:
        """Every string that must never appear in a message: credentials and tokens made of them."""
        return [value for value in self.row.credentials.values() if len(value) >= 4]

    def lookup_call(self, generation: Generation) -> Call | None:
        """Where the task is found by our own id after an ambiguous submit; None if nowhere."""
        return None

    def found(self, answer: Answer, generation: Generation) -> Running | None:
        """Read the lookup's 2xx answer: the task, or None when the upstream has none."""
        return None

    def cancel_call(self, generation: Generation) -> Call | None:
        return None

    @abstractmethod
    def check_call(self) -> Call:
        """A cheap authenticated request that proves the base URL and credentials work."""

    def describe_check(self, answer: Answer) -> str:
        return "credentials accepted"

    def callback_url(self, generation: Generation) -> str | None:
        """Our URL for the upstream to call back (a wake-up, wakeup.py), when it can reach us."""
        return wakeup.callback_url(generation)

    def download_headers(self) -> dict[str, str]:
        """Headers result URLs on the provider's own origin need; none by default."""
        return {}

    # Modules whose upstream names a model per variant (text or image input,
    # a tier) and takes its own field names: a Builder per catalog model.

    builders: dict[str, Builder] = {}
    model_name_pattern = re.compile(r".+")
    upstream_title = "the upstream"

    def built_input(self, generation: Generation, model: Any) -> tuple[str, dict[str, Any]]:
        """The upstream model and its input for this generation, or SubmitRefused, unsent.

        `model` is `upstream_model()`'s answer: one name, or a name per variant.
        """
        model_id = generation.model_id
        if model_id not in self.models and model_id not in self.row.model_map:
            raise self.not_sent(f"{self.upstream_title} does not offer {model_id}")
        build = self.builders.get(model_id)
        if build is None:  # mapped by the row, but no field mapping is known
            raise self.not_sent(f"no {self.upstream_title} input mapping is known for {model_id}")
        try:
            variant, body = build(generation.input)
        except Unsupported as exc:
            raise self.not_sent(str(exc)) from None
        name = model.get(variant) if isinstance(model, dict) else model
        if not isinstance(name, str) or not self.model_name_pattern.fullmatch(name):
            raise self.not_sent(
                f"no {self.upstream_title} model is set for {model_id} {variant}".strip()
            )
        return name, body

    def not_sent(self, reason: str) -> SubmitRefused:
        return SubmitRefused(f"{self.row.name}: {reason}; nothing was sent")

    # The provider contract

    def upstream_model(self, model_id: str) -> Any:
        """Our model id in the upstream's terms: the row's override, the built-in table, or ours."""
        return self.row.model_map.get(model_id) or self.models.get(model_id) or model_id

    def start(self, generation: Generation, workdir: Path, progress: ProgressFn) -> Outcome:
        """The submit, waited on here: the worker's way. The poller drives `submitting`."""
        steps = self.submitting(generation)
        call = next(steps)  # built before the lease is renewed: nothing is sent yet
        # Renew the lease right before sending, so the whole submit runs
        # inside it; a worker that already lost it must not submit at all.
        if not progress(0):
            raise SubmitRefused("the worker lost its lease before submitting; nothing was sent")
        return self.drive(steps, call)

    def poll(self, generation: Generation, workdir: Path | None = None) -> Outcome:
        """One poll, waited on here: the worker's way. The poller drives `polling` itself."""
        steps = self.polling(generation, workdir)
        return self.drive(steps, next(steps))

    def drive(self, steps: Steps, call: Call) -> Outcome:
        """Answer each call of `steps` with a request made here, until they conclude."""
        try:
            while True:
                try:
                    answer = self.exchange(call)
                except (outbound.FetchError, outbound.UnsafeURL) as exc:
                    call = steps.throw(exc)
                else:
                    call = steps.send(answer)
        except StopIteration as done:
            return done.value

    def submitting(self, generation: Generation) -> Steps:
        """A submit as its steps (see `polling`): the table at the top of this module."""
        self.prepare(SubmitRefused)
        call = self.submit_call(generation, self.upstream_model(generation.model_id))
        try:
            answer = yield call
        except outbound.UnsafeURL as exc:
            raise SubmitRefused(
                self.clean(f"the base URL cannot be used: {exc}"), provider_fault=True
            ) from None
        except outbound.FetchError as exc:
            if isinstance(exc.__context__, _NOTHING_SENT):
                raise SubmitRefused(self.clean(exc.reason), provider_fault=True) from None
            return (
                yield from self.after_ambiguous(generation, f"its answer was lost: {exc.reason}")
            )
        if answer.status >= 500 and answer.status not in FINAL_SERVER_CODES:
            return (
                yield from self.after_ambiguous(
                    generation, f"it answered {self.describe(answer)}", answered=True
                )
            )
        if not answer.ok:
            raise self.refusal(answer)
        try:
            return self.accepted(answer, generation)
        except Ambiguous as exc:
            return (yield from self.after_ambiguous(generation, str(exc)))

    def polling(self, generation: Generation, workdir: Path | None) -> Steps:
        """A poll as its steps: each Call yielded is answered by whoever drives it.

        Nothing here waits on the network, so the same reading serves a worker
        (poll() above) and the asyncio poller (playground/poller.py).
        """
        self.prepare(PollError)
        call = self.poll_call(generation, self.upstream_model(generation.model_id))
        answer = yield from self.ask(call)
        if not answer.ok:
            return self.poll_refusal(answer, generation)
        outcome = self.read_status(answer, generation, workdir)
        if isinstance(outcome, Generator):  # a reading that needs a second call
            outcome = yield from outcome
        return outcome

    def ask(self, call: Call) -> Generator[Call, Answer, Answer]:
        """One more call within a poll (`answer = yield from self.ask(call)`)."""
        try:
            return (yield call)
        except (outbound.FetchError, outbound.UnsafeURL) as exc:
            raise PollError(self.clean(str(exc))) from None

    def prepare(self, error: type[Exception]) -> None:
        """Ready the credentials before a call (a token to fetch); raise `error` when it can't."""

    def cancel(self, generation: Generation) -> None:
        call = self.cancel_call(generation)
        if call is not None:
            self.exchange(call)

    def check(self) -> str:
        """Make the check call; a line saying what the upstream answered. Raises CheckFailed."""
        try:
            answer = self.exchange(self.check_call())
        except (outbound.FetchError, outbound.UnsafeURL) as exc:
            raise CheckFailed(self.clean(str(exc))) from None
        if not answer.ok:
            raise CheckFailed(self.clean(f"{self.row.name} answered {self.describe(answer)}"))
        return self.clean(self.describe_check(answer))

    # Shared readings, for the modules

    def refusal(self, answer: Answer, code: int | None = None) -> SubmitRefused:
        """An error answer to a submit: nothing was made, the next provider may try."""
        status = answer.status if code is None else code
        return SubmitRefused(
            self.clean(f"the upstream refused the task ({self.describe(answer, code)})"),
            retry_after=answer.retry_after,
            provider_fault=status not in INPUT_REFUSALS,
        )

    def poll_refusal(
        self, answer: Answer, generation: Generation, code: int | None = None
    ) -> Outcome:
        """An error answer to a poll: ask again, or give up on the task (the table above)."""
        code = answer.status if code is None else code
        described = self.describe(answer, code)
        reference = generation.upstream_ref
        transient = code in TRANSIENT_POLL_CODES or (code >= 500 and code not in FINAL_SERVER_CODES)
        if transient:
            raise PollError(
                self.clean(f"the upstream answered {described}"), retry_after=answer.retry_after
            )
        if code == 404:
            message = f"The upstream has no task {reference} ({described})."
        else:
            message = f"The upstream answered {described} for task {reference}."
        return Failed(Generation.FailCode.UPSTREAM_ERROR, self.clean(message))

    def running(self, generation: Generation, progress: Any = None) -> Running:
        return Running(generation.upstream_ref, progress=read_progress(progress))

    def unknown_state(self, generation: Generation, word: Any) -> Running:
        # Upstreams add states (DESIGN §5); the deadline bounds the wait.
        log.warning(
            "%s answered an unknown state %r for task %s; polling again",
            self.row.name,
            str(word)[:50],
            generation.upstream_ref,
        )
        return Running(generation.upstream_ref)

    def failed(self, reason: str, code: str = "", *, upstream_code: Any = None) -> Failed:
        """A failure in the upstream's words, under our code when it maps to one."""
        reason = (
            reason or ""
        ).strip() or "The upstream reported the generation failed without a reason."
        if upstream_code not in (None, ""):
            reason = f"{reason} (upstream code {upstream_code})"
        return Failed(code or Generation.FailCode.UPSTREAM_ERROR, self.clean(reason))

    def result(
        self, generation: Generation, video_url: Any, poster_url: Any = None, **fields: Any
    ) -> Outcome:
        """Success with the first usable video URL; the key goes along only to our upstream."""
        video = first_url(video_url if isinstance(video_url, list) else [video_url])
        if video is None:
            return Failed(
                Generation.FailCode.UPSTREAM_ERROR,
                f"The upstream reported task {generation.upstream_ref} done "
                "but gave no usable result URL.",
            )
        poster = first_url(poster_url if isinstance(poster_url, list) else [poster_url])
        headers = self.download_headers()
        if headers and not self.on_our_origin(video):
            headers = {}
        if headers and poster is not None and not self.on_our_origin(poster):
            # The key goes with both downloads or neither: an off-origin
            # poster is left out (the first frame stands in for it).
            poster = None
        return Succeeded(
            video_url=video,
            poster_url=poster,
            note=f"upstream task {generation.upstream_ref}",
            download_headers=headers,
            **fields,
        )

    def reference(self, value: Any) -> str:
        """An upstream task id as text, or raise Ambiguous when there is no usable one."""
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip() or len(value.strip()) > MAX_REFERENCE:
            raise Ambiguous(f"it answered {self.accepted_status} without a usable {self.id_name}")
        return value.strip()

    def after_ambiguous(self, generation: Generation, why: str, *, answered: bool = False) -> Steps:
        """Look the task up by our own id where the upstream allows it; else fail, unsent again.

        Found, it is polled as any other. Not found (a 404, or an answer the
        module reads as no task) after the upstream answered a 5xx: nothing
        was made, and the next provider may try. Anything less clear stays
        ambiguous: a second paid task is worse than a failed one.
        """
        call = self.lookup_call(generation)
        if call is not None:
            try:
                answer = yield call
            except (outbound.FetchError, outbound.UnsafeURL):
                answer = None
            absent = False
            if answer is not None and answer.ok:
                try:
                    running = self.found(answer, generation)
                except Ambiguous:
                    running = None
                else:
                    if running is not None:
                        return running
                    absent = True
            elif answer is not None and answer.status == 404:
                absent = True
            if absent and answered:
                raise SubmitRefused(
                    self.clean(f"{why}, and has no task under our id {generation.task_id}"),
                    provider_fault=True,
                )
        return Failed(
            Generation.FailCode.UPSTREAM_AMBIGUOUS,
            self.clean(
                f"The upstream {self.row.name} may have accepted the task, but {why}. "
                "It was not submitted again, to avoid paying twice."
            ),
        )

    # The exchange

    @property
    def base_url(self) -> str:
        return (self.row.base_url or self.default_base_url).rstrip("/")

    def on_our_origin(self, url: str) -> bool:
        ours, theirs = httpx.URL(self.base_url), httpx.URL(url)
        return (ours.scheme, ours.host, ours.port) == (theirs.scheme, theirs.host, theirs.port)

    def url_for(self, call: Call) -> str:
        if call.path.startswith(("http://", "https://")):
            # A URL the upstream handed out: our credentials go to its origin only.
            if not self.on_our_origin(call.path):
                raise outbound.UnsafeURL(
                    f"the upstream pointed us to another host ({httpx.URL(call.path).host})"
                )
            return call.path
        return self.base_url + call.path

    def exchange(self, call: Call) -> Answer:
        response = outbound.send(
            call.method,
            self.url_for(call),
            **self.request_parts(call),
            total_timeout=call.timeout or self.seconds,
            # Upstreams are configured by an admin and may be on the LAN.
            allow_private=True,
        )
        return self.answered(call, read_answer(response))

    async def exchange_async(self, client: httpx.AsyncClient, call: Call) -> Answer:
        """The same exchange from the poller's loop, on its shared connection pool."""
        response = await outbound.send_async(
            client, call.method, self.url_for(call), **self.request_parts(call)
        )
        return self.answered(call, read_answer(response))

    @property
    def seconds(self) -> float:
        # Also held under half the lease: see `timeout`.
        return min(self.timeout, settings.GENERATION_LEASE_SECONDS / 2)

    def request_parts(self, call: Call) -> dict[str, Any]:
        return {
            "json": call.json,
            "params": call.params,
            "data": call.data,
            "files": call.files,
            "headers": {"Accept": "application/json", **self.auth_headers()},
            "timeout": call.timeout or self.seconds,
            "max_response_bytes": call.max_answer_bytes,
        }

    def answered(self, call: Call, answer: Answer) -> Answer:
        """A module's look at every answer as it arrives (a pace given in the body)."""
        return answer

    def describe(self, answer: Answer, code: int | None = None) -> str:
        said = self.error_message(answer)
        status = code if code is not None else answer.status
        return f"code {status}: {said}" if said else f"code {status}"

    def clean(self, text: str) -> str:
        """A message safe to store and show: every secret cut out, the length capped."""
        for secret in sorted(self.secrets(), key=len, reverse=True):
            text = text.replace(secret, HIDDEN_KEY)
        return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def read_answer(response: outbound.OutboundResponse) -> Answer:
    body = None
    if not response.truncated:
        try:
            body = response.json()
        except ValueError:
            body = None
    return Answer(
        status=response.status,
        body=body,
        retry_after=retry_after_seconds(response.headers.get("Retry-After")),
    )


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds (it may be a number of seconds or an HTTP date), or None."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def at_least(seconds: float, offered: tuple[int, ...]) -> int | None:
    """The shortest length an upstream offers that holds all `seconds` asked (and paid) for.

    Veo makes 4, 6 or 8 s where the catalog sells 5 s: the 5 s is made as 6 s
    rather than refused by every Veo provider. None when nothing is that long.
    """
    longer = [length for length in sorted(offered) if length >= seconds]
    return longer[0] if longer else None


def read_progress(value: Any) -> int | None:
    """A progress percentage when the upstream reports a sensible one (40, 0.4 of 1 is not)."""
    if isinstance(value, str):
        try:
            value = float(value.strip().rstrip("%"))
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or not 0 <= value <= 100:
        return None
    return int(value)


def first_url(values: Any) -> str | None:
    """The first entry that is a URL our downloader may fetch (http or https, no credentials)."""
    if not isinstance(values, list):
        return None
    for value in values:
        if not isinstance(value, str):
            continue
        try:
            outbound.check_url(value.strip(), allow_private=True)
        except outbound.UnsafeURL:
            continue
        return value.strip()
    return None
