"""What the upstream adapters share: one request, its `{code, msg, data}` answer, and its meaning.

Each adapter (jobs.py, video_generations.py, generate_task.py) only says
where a submit and a poll go, with which body, and what its upstream's state
words mean. The rest is decided here, once:

    submit                                               outcome
    no connection made (refused, DNS, connect timeout)   SubmitRefused
    HTTP status or envelope code other than 200          SubmitRefused (Retry-After kept)
    answer lost after the request went out (read         Failed(UPSTREAM_AMBIGUOUS),
      timeout, reset, 2xx not JSON, no taskId)             never sent again
    2xx with a taskId                                    Running(taskId)

    poll
    network error, timeout, 5xx (not 501/505), 408,      PollError(retry_after=Retry-After)
      429, 455, 401/403, 2xx not JSON, no state word
    404                                                  Failed(UPSTREAM_ERROR, "no task ...")
    any other code (400, 422, 501 ...)                   Failed(UPSTREAM_ERROR, upstream msg)
    a running state word                                 Running(progress=upstream's or None)
    a state word the adapter does not know               logged, Running
    a failed state word                                  Failed(failCode if ours, failMsg)
    success with a result URL                            Succeeded(resultUrls[0], thumbnailUrl)
    success without one                                  Failed(UPSTREAM_ERROR, "no result URL")

The provider's API key goes only into the Authorization header: it is cut
out of every message built from upstream text, in case an upstream echoes it.
"""

from __future__ import annotations

import json
import logging
import math
from abc import abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings

from playground import lifecycle, outbound
from playground.models import Generation
from playground.providers.base import (
    BaseProvider,
    Failed,
    Outcome,
    PollError,
    ProgressFn,
    Running,
    SubmitRefused,
    Succeeded,
)

log = logging.getLogger(__name__)

# What an adapter's state words mean.
RUNNING = "running"
SUCCESS = "success"
FAIL = "fail"

# Upstream fail codes that mean the same here (DESIGN §4). Any other code is
# kept in the message, under UPSTREAM_ERROR.
SHARED_FAIL_CODES = frozenset({lifecycle.CONTENT_VIOLATION, lifecycle.INVALID_IMAGE_URL})

# Poll answers worth asking again: the task exists upstream and may still
# finish (and be paid for there). 401/403 too: an admin who fixes the key
# picks the task up again, and the error budget bounds the wait.
TRANSIENT_POLL_CODES = frozenset({401, 403, 408, 425, 429, 455})
# 5xx codes the jobs contract gives a final meaning: 501 generation failed,
# 505 feature disabled. Asking again cannot change them.
FINAL_SERVER_CODES = frozenset({501, 505})

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


@dataclass(frozen=True)
class Call:
    """One request to the upstream, relative to the provider's base URL."""

    path: str
    json: dict[str, Any] | None = None
    params: dict[str, str] | None = None


@dataclass(frozen=True)
class Answer:
    """An upstream answer read as the `{code, msg, data}` envelope the three contracts share."""

    code: int  # the HTTP status when not 2xx, else the envelope's code (200 when absent)
    msg: str
    data: dict[str, Any] | None  # None when the body is not JSON or has no data object
    is_json: bool
    retry_after: float | None

    def describe(self) -> str:
        return f"code {self.code}: {self.msg}" if self.msg else f"code {self.code}"


class UpstreamProvider(BaseProvider):
    """An upstream gateway that takes a task, then answers polls about it.

    Subclasses set `kind` and `states` and build the two requests. No cancel
    call exists in these contracts, so `cancel` stays the base class's no-op:
    our side settles the generation, the upstream finishes on its own.
    """

    asynchronous = True
    states: dict[str, str] = {}
    # Seconds for the whole exchange (each network phase and the total). It
    # is also held under half the worker's lease: a submit still in flight
    # when the lease runs out would be taken for a dead worker's and failed
    # while the upstream may be accepting it.
    timeout = 30.0

    @abstractmethod
    def submit_call(self, generation: Generation, model: str) -> Call:
        """The submit request of this contract."""

    @abstractmethod
    def poll_call(self, generation: Generation, model: str) -> Call:
        """The status request of this contract."""

    # The provider contract

    def start(self, generation: Generation, workdir: Path, progress: ProgressFn) -> Outcome:
        call = self.submit_call(generation, self.row.upstream_model(generation.model_id))
        # Renew the lease right before sending, so the whole submit runs
        # inside it; a worker that already lost it must not submit at all.
        if not progress(0):
            raise SubmitRefused("the worker lost its lease before submitting; nothing was sent")
        try:
            answer = self._exchange("POST", call)
        except outbound.UnsafeURL as exc:
            raise SubmitRefused(self.clean(f"the base URL cannot be used: {exc}")) from None
        except outbound.FetchError as exc:
            if isinstance(exc.__context__, _NOTHING_SENT):
                raise SubmitRefused(self.clean(exc.reason)) from None
            return self.ambiguous(f"its answer was lost: {exc.reason}")
        if answer.code != 200:
            raise SubmitRefused(
                self.clean(f"the upstream refused the task ({answer.describe()})"),
                retry_after=answer.retry_after,
            )
        if not answer.is_json:
            return self.ambiguous("it answered 200 with a body that is not JSON")
        task_id = (answer.data or {}).get("taskId")
        if isinstance(task_id, int) and not isinstance(task_id, bool):
            task_id = str(task_id)
        if not isinstance(task_id, str) or not task_id.strip() or len(task_id) > MAX_REFERENCE:
            return self.ambiguous("it answered 200 without a usable taskId")
        return Running(reference=task_id.strip())

    def poll(self, generation: Generation) -> Outcome:
        reference = generation.upstream_ref
        call = self.poll_call(generation, self.row.upstream_model(generation.model_id))
        try:
            answer = self._exchange("GET", call)
        except (outbound.FetchError, outbound.UnsafeURL) as exc:
            raise PollError(self.clean(str(exc))) from None
        if answer.code == 404:
            return Failed(
                lifecycle.UPSTREAM_ERROR,
                self.clean(f"The upstream has no task {reference} ({answer.describe()})."),
            )
        if answer.code != 200:
            transient = answer.code in TRANSIENT_POLL_CODES or (
                answer.code >= 500 and answer.code not in FINAL_SERVER_CODES
            )
            if transient:
                raise PollError(
                    self.clean(f"the upstream answered {answer.describe()}"),
                    retry_after=answer.retry_after,
                )
            return Failed(
                lifecycle.UPSTREAM_ERROR,
                self.clean(f"The upstream answered {answer.describe()} for task {reference}."),
            )
        if answer.data is None:
            raise PollError("the upstream's status answer is not a JSON {code, msg, data} object")
        word = answer.data.get("state")
        if not isinstance(word, str) or not word.strip():
            raise PollError("the upstream's status answer has no state")
        meaning = self.states.get(word.strip().lower())
        if meaning is None:
            # Upstreams add states (DESIGN §5); the deadline bounds the wait.
            log.warning(
                "%s answered an unknown state %r for task %s; polling again",
                self.row.name,
                word[:50],
                reference,
            )
            return Running(reference)
        if meaning == RUNNING:
            return Running(reference, progress=read_progress(answer.data))
        if meaning == FAIL:
            return self.failure(answer.data)
        return self.success(answer.data, reference)

    # Reading answers

    def _exchange(self, method: str, call: Call) -> Answer:
        seconds = min(self.timeout, settings.GENERATION_LEASE_SECONDS / 2)
        headers = {"Accept": "application/json"}
        if self.row.api_key:
            headers["Authorization"] = f"Bearer {self.row.api_key}"
        response = outbound.send(
            method,
            self.row.base_url.rstrip("/") + call.path,
            json=call.json,
            params=call.params,
            headers=headers,
            timeout=seconds,
            total_timeout=seconds,
            # Upstreams are configured by an admin and may be on the LAN.
            allow_private=True,
            max_response_bytes=MAX_ANSWER_BYTES,
        )
        return read_answer(response)

    def failure(self, data: dict[str, Any]) -> Failed:
        """The upstream's own reason, and its fail code when it is one of ours."""
        fail_code = str(data.get("failCode") or "").strip()
        reason = str(data.get("failMsg") or "").strip()
        if not reason:
            reason = "The upstream reported the generation failed without a reason."
        if fail_code in SHARED_FAIL_CODES:
            return Failed(fail_code, self.clean(reason))
        if fail_code:
            reason = f"{reason} (upstream failCode {fail_code})"
        return Failed(lifecycle.UPSTREAM_ERROR, self.clean(reason))

    def success(self, data: dict[str, Any], reference: str) -> Outcome:
        result = read_result(data)
        video_url = first_url(result.get("resultUrls"))
        if video_url is None:
            return Failed(
                lifecycle.UPSTREAM_ERROR,
                f"The upstream reported task {reference} done but gave no usable result URL.",
            )
        return Succeeded(
            video_url=video_url,
            poster_url=first_url([result.get("thumbnailUrl")]),
            note=f"upstream task {reference}",
        )

    def ambiguous(self, why: str) -> Failed:
        return Failed(
            lifecycle.UPSTREAM_AMBIGUOUS,
            self.clean(
                f"The upstream {self.row.name} may have accepted the task, but {why}. "
                "It was not submitted again, to avoid paying twice."
            ),
        )

    def clean(self, text: str) -> str:
        """A message safe to store and show: the API key cut out, the length capped."""
        if self.row.api_key:
            text = text.replace(self.row.api_key, HIDDEN_KEY)
        return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def read_answer(response: outbound.OutboundResponse) -> Answer:
    try:
        body = response.json()
    except ValueError:
        body = None
    envelope = body if isinstance(body, dict) else {}
    code = response.status
    if response.ok:
        code = _as_code(envelope.get("code"))
    data = envelope.get("data")
    return Answer(
        code=code,
        msg=_message(envelope),
        data=data if isinstance(data, dict) else None,
        is_json=body is not None,
        retry_after=retry_after_seconds(response.headers.get("Retry-After")),
    )


def _as_code(value: Any) -> int:
    """The envelope's code; an answer without a readable one counts as 200 (its data decides)."""
    if isinstance(value, bool):
        return 200
    try:
        return int(value)
    except (TypeError, ValueError):
        return 200


def _message(envelope: dict[str, Any]) -> str:
    message = envelope.get("msg") or envelope.get("message") or envelope.get("error") or ""
    if isinstance(message, dict):  # {"error": {"message": ...}}
        message = message.get("message") or ""
    return str(message).strip()[:MAX_MESSAGE]


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


def read_progress(data: dict[str, Any]) -> int | None:
    """The upstream's progress percentage when it reports a sensible one."""
    value = data.get("progress")
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


def read_result(data: dict[str, Any]) -> dict[str, Any]:
    """The result object: `resultJson` (a JSON string, or an object) over `data`'s own fields.

    The jobs and generateTask contracts put the result in resultJson; the
    video generations contract puts resultUrls in data itself.
    """
    raw = data.get("resultJson")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raw = None
    result = raw if isinstance(raw, dict) else {}
    for name in ("resultUrls", "thumbnailUrl"):
        if not result.get(name) and data.get(name):
            result[name] = data[name]
    return result


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
