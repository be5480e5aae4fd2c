"""Replicate's predictions API on loopback, as its docs and official client speak it.

    with ReplicateServer() as replicate:
        replicate.script(Step("starting"), Step("processing", logs=" 40%|████ | 40/100"),
                         Step("succeeded"))
        replicate.on_create(Reply.json({...}, status=402))  # the next creates only
        row = replicate.provider_row()
        ...
        (create,) = replicate.creates
        replicate.predictions[prediction_id]["input"]

It checks `Authorization: Bearer <token>` (401 problem details without it),
takes `POST /v1/models/{owner}/{name}/predictions` (and `POST /v1/predictions`
with a version) for the models it knows, input checked against the model's
schema as Replicate does (unknown fields and missing ones: 422), answers 201
with the prediction, walks the scripted statuses on `GET /v1/predictions/{id}`,
cancels on `POST .../cancel`, answers unknown ids 404, serves `GET
/v1/account`, and puts the output, a real MP4, on a second server (the
replicate.delivery CDN).

Webhooks: it keeps the `webhook` a create asked for, serves the account's
signing secret at `GET /v1/webhooks/default/secret` ({"key": "whsec_..."}),
and `webhook(prediction_id)` is the completed webhook as Replicate signs it
(Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature
`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` keyed with the
base64-decoded part after `whsec_`), for a test to post or send.
`rotate_secret()` changes the secret, as the dashboard does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self

from playground.models import Provider
from tests.contract.fakes import API_KEY, SignedCallback, sample_mp4
from tests.httpservers import LoopbackServer, Received, Reply

VIDEO_PATH = "/files/output.mp4"  # on the CDN: no token needed
EXPIRED_PATH = "/files/expired.mp4"  # on the CDN: removed after the hour
PRIVATE_PATH = "/v1/files/output/download"  # on the API's own origin: needs the token
USERNAME = "reelgate-tests"

# Each model's input schema, from its API page: field -> allowed values
# (a tuple), a type, or None for any string; and the required fields.
KLING_ASPECT = ("16:9", "9:16", "1:1")
SCHEMAS: dict[str, tuple[dict[str, Any], set[str]]] = {
    "kwaivgi/kling-v2.1": (
        {"mode": ("standard", "pro"), "duration": (5, 10), "prompt": None, "end_image": None}
        | {"start_image": None, "negative_prompt": None},
        {"prompt", "start_image"},
    ),
    "kwaivgi/kling-v2.1-master": (
        {"prompt": None, "negative_prompt": None, "start_image": None}
        | {"aspect_ratio": KLING_ASPECT, "duration": (5, 10)},
        {"prompt"},
    ),
    "kwaivgi/kling-v2.6": (
        {"prompt": None, "negative_prompt": None, "start_image": None}
        | {"aspect_ratio": KLING_ASPECT, "duration": (5, 10), "generate_audio": bool},
        {"prompt"},
    ),
    "kwaivgi/kling-v3-video": (
        {"prompt": None, "negative_prompt": None, "start_image": None, "end_image": None}
        | {"mode": ("standard", "pro"), "aspect_ratio": KLING_ASPECT}
        | {"duration": tuple(range(3, 16)), "generate_audio": bool, "multi_prompt": None},
        set(),
    ),
    "google/veo-3.1": (
        {"prompt": None, "image": None, "last_frame": None, "reference_images": list}
        | {"duration": (4, 6, 8), "resolution": ("720p", "1080p")}
        | {"aspect_ratio": ("16:9", "9:16"), "generate_audio": bool}
        | {"negative_prompt": None, "seed": int},
        {"prompt"},
    ),
    "kwaivgi/kling-v3-motion-control": (
        {"mode": ("std", "pro"), "image": None, "video": None, "prompt": None}
        | {"keep_original_sound": bool, "character_orientation": ("image", "video")},
        {"image", "video"},
    ),
}
SECRET_PATH = "/v1/webhooks/default/secret"
VERSION = "5f4b7c0e2d9a4b6c8e1f3a5b7d9c0e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c4d"
MODEL_PATH = re.compile(r"^/v1/models/(?P<model>[^/]+/[^/]+)/predictions$")
PREDICTION_PATH = re.compile(r"^/v1/predictions/(?P<id>[^/]+)(?P<op>/cancel)?$")


@dataclass(frozen=True)
class Step:
    """One poll answer: starting, processing, succeeded, failed, canceled (or any word)."""

    status: str
    logs: str = ""
    output: Any = "default"  # "default": the CDN's video URL
    error: str | None = None


def problem(
    status: int, title: str, detail: str, *, headers: dict | None = None, **fields: Any
) -> Reply:
    """Replicate's error answer: RFC 7807 problem details."""
    body = {"title": title, "detail": detail, "status": status, **fields}
    headers = {"Content-Type": "application/problem+json", **(headers or {})}
    return Reply.json(body, status=status, headers=headers)


class _Api(LoopbackServer):
    """A loopback server whose dynamic paths (models, prediction ids) one function answers."""

    def __init__(self, dispatch) -> None:
        super().__init__()
        self.dispatch = dispatch

    def _reply_for(self, request: Received) -> Reply:
        return self.dispatch(request) or super()._reply_for(request)


@dataclass
class ReplicateServer:
    key: str = API_KEY
    predictions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.server = _Api(self._dispatch)
        self.cdn = LoopbackServer()
        self._steps: list[Step | Reply] = [Step("succeeded")]
        self._create_replies: list[Reply] = []
        self._polls: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.signing_secret = new_secret()
        self._secret_replies: list[Reply] = []

    def __enter__(self) -> Self:
        self.server.start()
        self.cdn.start()
        self.url, self.cdn_url = self.server.url, self.cdn.url
        self.video_url = self.cdn_url + VIDEO_PATH
        video = {"body": sample_mp4(), "headers": {"Content-Type": "video/mp4"}}
        self.cdn.route(VIDEO_PATH, **video)
        self.cdn.route(EXPIRED_PATH, status=404, body="Not Found")
        self.server.route(
            PRIVATE_PATH, lambda r: Reply(**video) if self._authorized(r) else self._denied()
        )
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.stop()
        self.cdn.stop()

    # Scripting

    def script(self, *steps: Step | Reply) -> None:
        """What every prediction's polls answer, in turn; the last one repeats."""
        self._steps = list(steps)

    def on_create(self, *replies: Reply) -> None:
        self._create_replies = list(replies)

    def on_secret(self, *replies: Reply) -> None:
        """Answer the next requests for the signing secret with these, in turn (an outage)."""
        self._secret_replies = list(replies)

    def rotate_secret(self) -> None:
        self.signing_secret = new_secret()

    def webhook(
        self, prediction_id: str, *, secret: str | None = None, at: int | None = None
    ) -> SignedCallback:
        """The completed webhook of a prediction, signed with the account's secret (or `secret`)."""
        with self._lock:
            prediction = dict(self.predictions[prediction_id])
        prediction.update(status="succeeded", output=self.video_url, completed_at=_now())
        body = json.dumps(prediction).encode()
        message_id = f"msg_{secrets.token_hex(12)}"
        timestamp = str(int(time.time()) if at is None else at)
        key = base64.b64decode((secret or self.signing_secret).removeprefix("whsec_"))
        digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256)
        headers = {
            "webhook-id": message_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": "v1," + base64.b64encode(digest.digest()).decode(),
        }
        return SignedCallback(url=prediction["webhook"], headers=headers, body=body)

    @property
    def secret_requests(self) -> list[Received]:
        return self.to(SECRET_PATH)

    def provider_row(self, **fields: Any) -> Provider:
        fields.setdefault("credentials", {"api_key": self.key})
        fields.setdefault("name", "replicate")
        return Provider.objects.create(kind=Provider.REPLICATE, base_url=self.url, **fields)

    # What arrived

    @property
    def creates(self) -> list[Received]:
        return [r for r in self.server.requests if r.method == "POST" and "/cancel" not in r.path]

    def to(self, path: str) -> list[Received]:
        return self.server.requests_to(path)

    # The API

    def _authorized(self, request: Received) -> bool:
        return request.header("Authorization") == f"Bearer {self.key}"

    def _denied(self) -> Reply:
        return problem(401, "Unauthenticated", "You did not pass a valid authentication token")

    def _dispatch(self, request: Received) -> Reply | None:
        path, method = request.path, request.method
        if path.startswith("/files/") or path == PRIVATE_PATH:
            return None
        if not self._authorized(request):
            return self._denied()
        if path == SECRET_PATH and method == "GET":
            with self._lock:
                if self._secret_replies:
                    return self._secret_replies.pop(0)
            return Reply.json({"key": self.signing_secret})
        if path == "/v1/account" and method == "GET":
            name = "Reelgate Tests"
            return Reply.json({"type": "user", "username": USERNAME, "name": name})
        model = MODEL_PATH.match(path)
        if model and method == "POST":
            return self._create(request, model["model"])
        if path == "/v1/predictions" and method == "POST":
            version = (_json(request) or {}).get("version", "")
            return self._create(request, str(version).partition(":")[0])
        found = PREDICTION_PATH.match(path)
        if found is None:
            return problem(404, "Not found", "The requested resource could not be found.")
        with self._lock:
            prediction = self.predictions.get(found["id"])
        if prediction is None:
            return problem(404, "Not found", "The requested resource could not be found.")
        if found["op"] and method == "POST":
            if prediction["status"] in ("starting", "processing"):
                prediction.update(status="canceled", completed_at=_now())
            return Reply.json(prediction)
        if not found["op"] and method == "GET":
            return self._poll(found["id"], prediction)
        return problem(405, "Method not allowed", f"{method} is not allowed here.")

    def _create(self, request: Received, model: str) -> Reply:
        with self._lock:
            if self._create_replies:
                return self._create_replies.pop(0)
        if model not in SCHEMAS:
            return problem(404, "Not found", "The requested resource could not be found.")
        body = _json(request)
        given = body.get("input") if isinstance(body, dict) else None
        if not isinstance(given, dict):
            return invalid({"input": "input is required"})
        problems = validate(model, given)
        if problems:
            return invalid(problems)
        prediction_id = f"rg{next(self._ids):024d}"
        base = f"{self.url}/v1/predictions/{prediction_id}"
        prediction = {
            "id": prediction_id,
            "model": model,
            "version": VERSION,
            "input": given,
            "logs": "",
            "output": None,
            "error": None,
            "status": "starting",
            "created_at": _now(),
            "urls": {"get": base, "cancel": base + "/cancel"},
            "webhook": body.get("webhook"),
        }
        with self._lock:
            self.predictions[prediction_id] = prediction
            self._polls[prediction_id] = 0
        return Reply.json(prediction, status=201)

    def _poll(self, prediction_id: str, prediction: dict[str, Any]) -> Reply:
        with self._lock:
            if prediction["status"] == "canceled":
                return Reply.json(prediction)
            step = self._steps[min(self._polls[prediction_id], len(self._steps) - 1)]
            self._polls[prediction_id] += 1
        if isinstance(step, Reply):
            return step
        output = None
        if step.status == "succeeded":
            output = self.video_url if step.output == "default" else step.output
        prediction.update(status=step.status, logs=step.logs, output=output, error=step.error)
        if step.status in ("succeeded", "failed"):
            prediction.update(completed_at=_now(), metrics={"predict_time": 2.8})
        return Reply.json(prediction)


def validate(model: str, given: dict[str, Any]) -> dict[str, str]:
    """What Replicate's validation says of an input: field -> problem (empty when fine)."""
    fields, required = SCHEMAS[model]
    problems = {name: f"{name} is required" for name in sorted(required - {*given})}
    for name, value in given.items():
        if name not in fields:
            problems[name] = f"Additional property {name} is not allowed"
            continue
        allowed = fields[name]
        if isinstance(allowed, tuple) and (value not in allowed or type(value) is bool):
            problems[name] = f"{name} must be one of: {', '.join(map(str, allowed))}"
        elif isinstance(allowed, type) and type(value) is not allowed:
            problems[name] = f"Invalid type. Expected: {allowed.__name__}"
        elif allowed is None and not isinstance(value, str):
            problems[name] = "Invalid type. Expected: string"
    return problems


def invalid(problems: dict[str, str]) -> Reply:
    detail = "".join(f"- input.{name}: {text}\n" for name, text in problems.items())
    fields = [
        {"type": "invalid", "field": f"input.{name}", "description": text}
        for name, text in problems.items()
    ]
    return problem(422, "Input validation failed", detail, invalid_fields=fields)


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _json(request: Received) -> Any:
    try:
        return request.json()
    except ValueError:
        return None


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
