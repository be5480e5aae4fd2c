"""fal's queue API on loopback, as fal documents it and its clients speak it.

    with FalServer() as fal:
        fal.script(Status("IN_QUEUE", queue_position=2), Status("IN_PROGRESS"), Status("COMPLETED"))
        fal.on_result(Reply.json({"detail": [...]}, status=422))  # response_url's answers
        fal.on_submit(Reply.json({"detail": "..."}, status=403))    # the next submits only
        row = fal.provider_row()
        ...
        (submit,) = fal.submits             # requests as received
        fal.received[request_id].cancelled  # a PUT to its cancel_url arrived

It checks `Authorization: Key <key>` (401 in fal's {"detail"} shape without
it), takes a submit at any app it knows (`POST /{app id}`, input checked
against the app's schema: unknown fields are refused, which fal may not do, so
a field an app lacks fails here), hands out request ids and the status,
response and cancel URLs under the app's owner/alias (the subpath dropped),
walks the scripted statuses (202 while queued or running, 200 once
COMPLETED), answers unknown ids 404, and serves the result: by default
{"video": {"url": ...}} pointing at a real MP4 on a second server, the CDN.

Webhooks: it keeps the `fal_webhook` a submit carried, publishes its public
keys as a JWKS at `/.well-known/jwks.json` (OKP, Ed25519, `x` base64url),
and `webhook(request_id)` is the webhook fal sends when a request completes,
signed as fal signs it: X-Fal-Webhook-Request-Id, -User-Id, -Timestamp and
-Signature, the hex ED25519 signature of "{request id}\n{user id}\n
{timestamp}\n{sha256 hex of the body}". `rotate_key()` replaces its key.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Self

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from playground.models import Provider
from tests.contract.fakes import API_KEY, SignedCallback, sample_mp4
from tests.httpservers import LoopbackServer, Received, Reply

VIDEO_PATH = "/files/result.mp4"  # on the CDN: no key needed
EXPIRED_PATH = "/files/expired.mp4"  # on the CDN: gone
PRIVATE_PATH = "/private/result.mp4"  # on the queue's own origin: needs the key
JWKS_PATH = "/.well-known/jwks.json"
USER_ID = "reelgate-tests-user"

# The documented apps (fal-js endpoints.ts) and their input schemas:
# (allowed fields, required fields, allowed durations).
KLING_2 = ("5", "10")
KLING_3 = tuple(str(n) for n in range(3, 16))
KLING_I2V = {"prompt", "image_url", "duration", "negative_prompt", "cfg_scale"}
KLING_T2V = {"prompt", "duration", "aspect_ratio", "negative_prompt", "cfg_scale"}
V3_COMMON = {"prompt", "multi_prompt", "duration", "negative_prompt", "cfg_scale"}
V3_COMMON |= {"generate_audio", "shot_type"}
VEO = {"prompt", "aspect_ratio", "duration", "resolution", "generate_audio", "negative_prompt"}
VEO |= {"seed", "auto_fix", "safety_tolerance"}
MOTION = {"prompt", "image_url", "video_url", "character_orientation", "keep_original_sound"}
K = "fal-ai/kling-video"
SCHEMAS: dict[str, tuple[set[str], set[str], tuple[str, ...]]] = {
    f"{K}/v2.1/standard/image-to-video": (KLING_I2V, {"prompt", "image_url"}, KLING_2),
    f"{K}/v2.1/master/image-to-video": (KLING_I2V, {"prompt", "image_url"}, KLING_2),
    f"{K}/v2.1/pro/image-to-video": (
        KLING_I2V | {"tail_image_url"},
        {"prompt", "image_url"},
        KLING_2,
    ),
    f"{K}/v2.1/master/text-to-video": (KLING_T2V, {"prompt"}, KLING_2),
    f"{K}/v2.6/pro/text-to-video": (KLING_T2V | {"generate_audio"}, {"prompt"}, KLING_2),
    f"{K}/v2.6/pro/image-to-video": (
        {"prompt", "start_image_url", "end_image_url", "duration", "negative_prompt"}
        | {"generate_audio", "voice_ids"},
        {"prompt", "start_image_url"},
        KLING_2,
    ),
    **{
        f"{K}/v3/{tier}/text-to-video": (V3_COMMON | {"aspect_ratio"}, set(), KLING_3)
        for tier in ("standard", "pro")
    },
    **{
        f"{K}/v3/{tier}/image-to-video": (
            V3_COMMON | {"start_image_url", "end_image_url", "elements"},
            {"start_image_url"},
            KLING_3,
        )
        for tier in ("standard", "pro")
    },
    **{
        f"{K}/{version}/{tier}/motion-control": (
            MOTION | ({"elements"} if version == "v3" else set()),
            {"image_url", "video_url", "character_orientation"},
            (),
        )
        for version in ("v2.6", "v3")
        for tier in ("standard", "pro")
    },
    "fal-ai/veo3.1": (VEO, {"prompt"}, ("4s", "6s", "8s")),
}
REQUEST_PATH = re.compile(r"^/(?P<root>.+?)/requests/(?P<id>[^/]+)(?P<op>/status|/cancel)?$")


@dataclass(frozen=True)
class Status:
    """One status answer: IN_QUEUE, IN_PROGRESS, COMPLETED (or any word, sent as is)."""

    status: str
    queue_position: int = 0
    error: str | None = None
    error_type: str | None = None


@dataclass
class FalRequest:
    app: str
    root: str  # owner/alias: where its status, result and cancel live
    input: Any
    polls: int = 0
    completed: bool = False
    cancelled: bool = False
    webhook: str | None = None


class _Queue(LoopbackServer):
    """A loopback server whose dynamic paths (app ids, request ids) one function answers."""

    def __init__(self, dispatch) -> None:
        super().__init__()
        self.dispatch = dispatch

    def _reply_for(self, request: Received) -> Reply:
        return self.dispatch(request) or super()._reply_for(request)


@dataclass
class FalServer:
    key: str = API_KEY
    received: dict[str, FalRequest] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.server = _Queue(self._dispatch)
        self.cdn = LoopbackServer()
        self._steps: list[Status | Reply] = [Status("COMPLETED")]
        self._results: list[Reply] = []
        self._results_served = 0
        self._submit_replies: list[Reply] = []
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self.video_url = ""
        self.signing_key = Ed25519PrivateKey.generate()
        self._jwks_replies: list[Reply] = []

    def __enter__(self) -> Self:
        self.server.start()
        self.cdn.start()
        self.url, self.cdn_url = self.server.url, self.cdn.url
        self.video_url = self.cdn_url + VIDEO_PATH
        video = {"body": sample_mp4(), "headers": {"Content-Type": "video/mp4"}}
        self.cdn.route(VIDEO_PATH, **video)
        self.cdn.route(EXPIRED_PATH, status=404, body="NoSuchKey")
        self.server.route(
            PRIVATE_PATH,
            lambda r: Reply(**video) if self._authorized(r) else self._unauthorized(r),
        )
        self.server.route(JWKS_PATH, lambda r: self._jwks(), method="GET")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.stop()
        self.cdn.stop()

    # Scripting

    def script(self, *steps: Status | Reply) -> None:
        """What every request's status polls answer, in turn; the last one repeats."""
        self._steps = list(steps)

    def on_result(self, *replies: Reply) -> None:
        """What response_url answers once a request is COMPLETED, in turn (default: the video)."""
        self._results, self._results_served = list(replies), 0

    def video_result(self) -> Reply:
        """The app's output for a video: {"video": File}."""
        file = {"url": self.video_url, "content_type": "video/mp4", "file_name": "result.mp4"}
        return Reply.json({"video": file})

    def on_submit(self, *replies: Reply) -> None:
        self._submit_replies = list(replies)

    def on_jwks(self, *replies: Reply) -> None:
        """Answer the next requests for the JWKS with these, in turn (an outage)."""
        self._jwks_replies = list(replies)

    def rotate_key(self) -> None:
        self.signing_key = Ed25519PrivateKey.generate()

    def webhook(
        self, request_id: str, *, key: Ed25519PrivateKey | None = None, at: int | None = None
    ) -> SignedCallback:
        """The webhook of a completed request, signed with fal's key (or `key`)."""
        with self._lock:
            held = self.received[request_id]
        body = json.dumps(
            {
                "request_id": request_id,
                "gateway_request_id": request_id,
                "status": "OK",
                "payload": {"video": {"url": self.video_url, "content_type": "video/mp4"}},
            }
        ).encode()
        timestamp = str(int(time.time()) if at is None else at)
        message = "\n".join([request_id, USER_ID, timestamp, hashlib.sha256(body).hexdigest()])
        signature = (key or self.signing_key).sign(message.encode()).hex()
        headers = {
            "X-Fal-Webhook-Request-Id": request_id,
            "X-Fal-Webhook-User-Id": USER_ID,
            "X-Fal-Webhook-Timestamp": timestamp,
            "X-Fal-Webhook-Signature": signature,
        }
        assert held.webhook, "the submit carried no fal_webhook"
        return SignedCallback(url=held.webhook, headers=headers, body=body)

    @property
    def jwks_requests(self) -> list[Received]:
        return self.server.requests_to(JWKS_PATH)

    def provider_row(self, **fields: Any) -> Provider:
        fields.setdefault("credentials", {"api_key": self.key})
        fields.setdefault("name", "fal")
        return Provider.objects.create(kind=Provider.FAL, base_url=self.url, **fields)

    # What arrived

    @property
    def submits(self) -> list[Received]:
        return [r for r in self.server.requests if r.method == "POST"]

    def calls(self, op: str = "") -> list[Received]:
        """Requests to request ids: op "status", "cancel" or "" (the result)."""
        found = []
        for request in self.server.requests:
            match = REQUEST_PATH.match(request.path)
            if match and (match["op"] or "") == (f"/{op}" if op else ""):
                found.append(request)
        return found

    # The queue

    def _authorized(self, request: Received) -> bool:
        return request.header("Authorization") == f"Key {self.key}"

    def _unauthorized(self, request: Received) -> Reply:
        if not request.header("Authorization"):
            return Reply.json({"detail": "Missing authorization header"}, status=401)
        return Reply.json({"detail": "No user found for Key ID and Secret"}, status=401)

    def _dispatch(self, request: Received) -> Reply | None:
        match = REQUEST_PATH.match(request.path)
        if match is None and request.method != "POST":
            return None  # the files
        if not self._authorized(request):
            return self._unauthorized(request)
        if match is None:
            return self._submit(request)
        with self._lock:
            held = self.received.get(match["id"])
        if held is None or held.root != match["root"]:
            return Reply.json({"detail": "Request not found"}, status=404)
        if match["op"] == "/status" and request.method == "GET":
            return self._status(match["id"], held, request)
        if match["op"] == "/cancel" and request.method == "PUT":
            if held.polls or held.completed:
                return Reply.json({"status": "ALREADY_COMPLETED"}, status=400)
            held.cancelled = True
            return Reply.json({"status": "CANCELLATION_REQUESTED"}, status=202)
        if match["op"] is None and request.method == "GET":
            if not held.completed:
                return Reply.json({"detail": "Request is still in progress"}, status=400)
            with self._lock:
                if not self._results:
                    return self.video_result()
                index = min(self._results_served, len(self._results) - 1)
                self._results_served += 1
                return self._results[index]
        return Reply.json({"detail": "Method Not Allowed"}, status=405)

    def _submit(self, request: Received) -> Reply:
        app = request.path.strip("/")
        with self._lock:
            if self._submit_replies:
                return self._submit_replies.pop(0)
        if app not in SCHEMAS:
            return Reply.json({"detail": f"Application '{app}' not found"}, status=404)
        try:
            body = request.json()
        except ValueError:
            body = None
        problems = validate(app, body)
        if problems:
            return Reply.json({"detail": problems}, status=422)
        request_id = str(uuid.UUID(int=next(self._numbers)))
        parts = app.split("/")
        webhook = request.query.get("fal_webhook", [None])[0]
        held = FalRequest(app=app, root="/".join(parts[:2]), input=body, webhook=webhook)
        with self._lock:
            self.received[request_id] = held
        return Reply.json({"request_id": request_id, **self._urls(request_id, held)})

    def _jwks(self) -> Reply:
        with self._lock:
            if self._jwks_replies:
                return self._jwks_replies.pop(0)
        raw = self.signing_key.public_key().public_bytes_raw()
        x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        return Reply.json({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x}]})

    def _urls(self, request_id: str, held: FalRequest) -> dict[str, str]:
        base = f"{self.url}/{held.root}/requests/{request_id}"
        return {
            "response_url": base,
            "status_url": base + "/status",
            "cancel_url": base + "/cancel",
        }

    def _status(self, request_id: str, held: FalRequest, request: Received) -> Reply:
        with self._lock:
            step = self._steps[min(held.polls, len(self._steps) - 1)]
            held.polls += 1
        if isinstance(step, Reply):
            return step
        logs = request.query.get("logs", ["0"])[0] in ("1", "true")
        body: dict[str, Any] = {
            "status": step.status,
            "request_id": request_id,
            "response_url": self._urls(request_id, held)["response_url"],
            "logs": [] if logs else None,
        }
        if step.status == "IN_QUEUE":
            body["queue_position"] = step.queue_position
        if step.status == "IN_PROGRESS" and logs:
            body["logs"] = [{"message": "Generating", "level": "INFO", "timestamp": "now"}]
        if step.status != "COMPLETED":
            return Reply.json(body, status=202)
        held.completed = True
        body.update(metrics={"inference_time": 1.5}, error=step.error, error_type=step.error_type)
        return Reply.json(body)


def validate(app: str, body: Any) -> list[dict[str, Any]]:
    """The app's 422 detail items for an input its schema refuses (empty when it is fine)."""
    if not isinstance(body, dict):
        return [error(["body"], "Input should be a valid dictionary", "dict_type")]
    allowed, required, durations = SCHEMAS[app]
    problems = [error(["body", name], "Field required", "missing") for name in required - {*body}]
    problems += [
        error(["body", name], "Extra inputs are not permitted", "extra_forbidden")
        for name in sorted({*body} - allowed)
    ]
    if "duration" in body and body["duration"] not in durations:
        choices = " or ".join(repr(d) for d in durations)
        problems.append(error(["body", "duration"], f"Input should be {choices}", "literal_error"))
    return problems


def error(loc: list[str], msg: str, kind: str) -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": kind, "url": f"https://docs.fal.ai/errors#{kind}"}
