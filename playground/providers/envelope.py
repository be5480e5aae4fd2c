"""The `{code, msg, data}` envelope of the Kie-style contracts (seeds 000-004, Kie's Veo API).

Their answers carry a code of their own beside the HTTP status: an HTTP 200
may still say 402 or 500 in its envelope. Read here once for the modules that
speak it (jobs.py, video_generations.py, generate_task.py, kie_veo.py): an
envelope code is taken as the HTTP status would be, under the shared policy
of upstream.py.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from pathlib import Path
from typing import Any

from playground.models import Generation
from playground.providers.base import CheckFailed, Outcome, PollError, Running
from playground.providers.upstream import (
    FINAL_SERVER_CODES,
    SHARED_FAIL_CODES,
    Ambiguous,
    Answer,
    Call,
    UpstreamProvider,
)

# What a module's state words mean.
RUNNING = "running"
SUCCESS = "success"
FAIL = "fail"


def envelope_code(answer: Answer) -> int:
    """The envelope's code (200 when absent or unreadable: its data decides)."""
    value = answer.object.get("code")
    if isinstance(value, bool):
        return 200
    try:
        return int(value)
    except (TypeError, ValueError):
        return 200


def data_of(answer: Answer) -> dict[str, Any] | None:
    data = answer.object.get("data")
    return data if isinstance(data, dict) else None


class EnvelopeProvider(UpstreamProvider):
    """An upstream answering `{code, msg, data}`; a module names its state words and result."""

    states: dict[str, str] = {}
    id_name = "taskId"
    accepted_status = "200"

    @abstractmethod
    def state_word(self, data: dict[str, Any]) -> Any:
        """The task's state word in a status answer's data."""

    @abstractmethod
    def succeeded(self, data: dict[str, Any], generation: Generation) -> Outcome:
        """The result of a status answer whose state means success."""

    @abstractmethod
    def failure(self, data: dict[str, Any]) -> Outcome:
        """The failure a status answer whose state means failure reports."""

    def error_message(self, answer: Answer) -> str:
        body = answer.object
        message = body.get("msg") or body.get("message") or body.get("error") or ""
        if isinstance(message, dict):  # {"error": {"message": ...}}
            message = message.get("message") or ""
        return str(message).strip()

    def accepted(self, answer: Answer, generation: Generation) -> Running:
        code = envelope_code(answer)
        if code != 200:
            if code >= 500 and code not in FINAL_SERVER_CODES:
                raise Ambiguous(f"it answered {self.describe(answer, code)}")
            raise self.refusal(answer, code)
        if answer.body is None:
            raise Ambiguous("it answered 200 with a body that is not JSON")
        return Running(self.reference((data_of(answer) or {}).get("taskId")))

    def read_status(self, answer: Answer, generation: Generation, workdir: Path | None) -> Outcome:
        code = envelope_code(answer)
        if code != 200:
            return self.poll_refusal(answer, generation, code)
        data = data_of(answer)
        if data is None:
            raise PollError("the upstream's status answer is not a JSON {code, msg, data} object")
        word = self.state_word(data)
        if isinstance(word, str):
            word = word.strip().lower()
        if word is None or word == "":
            raise PollError("the upstream's status answer has no state")
        meaning = self.states.get(word)
        if meaning is None:
            return self.unknown_state(generation, word)
        if meaning == RUNNING:
            return self.running(generation, data.get("progress"))
        if meaning == FAIL:
            return self.failure(data)
        return self.succeeded(data, generation)

    def check_call(self) -> Call:
        # The balance call Kie-style gateways (and Reelgate) serve.
        return Call("/api/v1/chat/credit")

    def describe_check(self, answer: Answer) -> str:
        code = envelope_code(answer)
        if code != 200:
            # Kie-style gateways answer a wrong key with HTTP 200 and code 401.
            raise CheckFailed(self.clean(f"{self.row.name} answered {self.describe(answer, code)}"))
        return f"credentials accepted; balance: {answer.object.get('data')}"


class KieStyleProvider(EnvelopeProvider):
    """The three contracts of the seeds: state words in `state`, results in resultJson."""

    def state_word(self, data: dict[str, Any]) -> Any:
        return data.get("state")

    def failure(self, data: dict[str, Any]) -> Outcome:
        fail_code = str(data.get("failCode") or "").strip()
        reason = str(data.get("failMsg") or "").strip()
        if fail_code in SHARED_FAIL_CODES:
            return self.failed(reason, fail_code)
        if fail_code:
            reason = reason or "The upstream reported the generation failed"
            reason = f"{reason} (upstream failCode {fail_code})"
        return self.failed(reason)

    def succeeded(self, data: dict[str, Any], generation: Generation) -> Outcome:
        result = read_result(data)
        return self.result(generation, result.get("resultUrls"), result.get("thumbnailUrl"))


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
