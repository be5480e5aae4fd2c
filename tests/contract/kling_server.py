"""A loopback server speaking Kling's legacy API, scripted per test.

    with KlingServer() as kling:
        kling.script(Step("processing"), Step("succeed"))       # every task's queries, in turn
        kling.on_submit(kling_error(1102))                       # the next submit only
        kling.on_submit(Created(kling_error(5000)))              # made the task, then failed
        row = kling.provider_row()                               # access and secret keys
        ...
        (submit,) = kling.submits                                # the requests as received

What it checks, as Kling documents it (app.klingai.com/global/dev/document-api):
the Bearer token is either the account's API key or a JWT signed HS256 with
the secret key, issued by the access key, inside its nbf/exp window (401 with
codes 1001-1004 otherwise); the create bodies of text2video, image2video and
motion-control against their documented fields and enums; external_task_id
unique per account; a task found by its task_id or its external_task_id in the
query path; /account/costs with its required start_time and end_time. It is
stricter than Kling may be in one way: a field an endpoint does not document
is refused, so a test sees a field sent where it does not belong.

Errors come in Kling's shape, {code, message, request_id}, with the HTTP
status its error table pairs with the code. Results are served unauthenticated
(Kling's CDN URLs carry no key): a real MP4, and an expired URL answering 403.
"""

from __future__ import annotations

import hmac
import itertools
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Self

import jwt

from playground.models import Provider
from tests.contract.fakes import sample_mp4
from tests.httpservers import LoopbackServer, Received, Reply

ACCESS_KEY = "ak-kling-4c1e9b7d20f35a68e1"
SECRET_KEY = "sk-kling-9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"  # 32+ bytes, as HS256 wants
API_KEY = "api-key-kling-b2f4d6e8a0c1e3f5"
VIDEO_PATH = "/files/result.mp4"
EXPIRED_PATH = "/files/expired.mp4"

# Kling's error table: code -> (HTTP status, its words).
ERRORS = {
    1000: (401, "Authentication failed"),
    1001: (401, "Authorization is empty"),
    1002: (401, "Authorization is invalid"),
    1003: (401, "Authorization is not yet valid"),
    1004: (401, "Authorization has expired"),
    1100: (429, "Account exception"),
    1101: (429, "Account in arrears (postpaid scenario)"),
    1102: (429, "Resource pack depleted or expired (prepaid scenario)"),
    1103: (403, "Unauthorized access to requested resource"),
    1200: (400, "Invalid request parameters"),
    1201: (400, "Invalid parameters"),
    1202: (404, "The requested method is invalid"),
    1203: (404, "The requested resource does not exist"),
    1301: (400, "Trigger the content security policy of the platform"),
    1302: (429, "The API request is too fast, exceeding the platform's rate limit"),
    1303: (429, "parallel task over resource pack limit"),
    5000: (500, "Server internal error"),
    5001: (503, "Server temporarily unavailable, usually due to maintenance"),
    5002: (504, "Server internal timeout, usually due to a backlog"),
}

TEXT_MODELS = {
    "kling-v1",
    "kling-v1-6",
    "kling-v2-master",
    "kling-v2-1-master",
    "kling-v2-5-turbo",
    "kling-v2-6",
    "kling-v3",
}
COMMON = {"model_name", "prompt", "callback_url", "external_task_id", "watermark_info"}
VIDEO_FIELDS = COMMON | {"negative_prompt", "sound", "cfg_scale", "mode", "duration"}
VIDEO_FIELDS |= {"multi_shot", "shot_type", "multi_prompt", "camera_control"}
ENDPOINTS = {
    "text2video": (TEXT_MODELS, VIDEO_FIELDS | {"aspect_ratio"}),
    "image2video": (
        TEXT_MODELS | {"kling-v1-5", "kling-v2-1"},
        VIDEO_FIELDS
        | {"image", "image_tail", "static_mask", "dynamic_masks", "element_list", "voice_list"},
    ),
    "motion-control": (
        {"kling-v2-6", "kling-v3"},
        COMMON
        | {"image_url", "video_url", "element_list", "keep_original_sound"}
        | {"character_orientation", "mode"},
    ),
}
ENUMS = {
    "mode": {"std", "pro"},
    "sound": {"on", "off"},
    "aspect_ratio": {"16:9", "9:16", "1:1"},
    "duration": {str(seconds) for seconds in range(3, 16)},
    "character_orientation": {"image", "video"},
    "keep_original_sound": {"yes", "no"},
}
REQUIRED = {"motion-control": ("image_url", "video_url", "character_orientation", "mode")}
# The capability map: the master models take no mode, v2.x no cfg_scale,
# and sound is for kling-v2-6 and later.
SILENT = ("kling-v1", "kling-v2-master", "kling-v2-1", "kling-v2-5")


def kling_error(code: int, message: str = "", *, status: int | None = None, **fields: Any) -> Reply:
    """An error answer in Kling's shape; the HTTP status is the error table's unless given."""
    table_status, words = ERRORS.get(code, (400, "error"))
    body = {"code": code, "message": message or words, "request_id": str(uuid.uuid4())}
    return Reply.json(body, status=status or table_status, **fields)


@dataclass(frozen=True)
class Created:
    """A submit answer given after the task was made all the same (a 5xx, a lost answer)."""

    reply: Reply


@dataclass(frozen=True)
class Step:
    """One query answer: a task_status word (submitted, processing, succeed, failed, or any)."""

    status: str
    message: str = ""  # task_status_msg
    videos: list[Any] | None = None  # None: the server's own MP4
    units: str = "1"  # final_unit_deduction


@dataclass
class Task:
    task_id: str
    endpoint: str
    external_task_id: str
    body: dict[str, Any]
    queries: int = 0


class _Loopback(LoopbackServer):
    """LoopbackServer matches paths exactly; Kling's query paths end in an id."""

    def __init__(self, kling: KlingServer) -> None:
        super().__init__()
        self.kling = kling

    def _reply_for(self, request: Received) -> Reply:
        parts = request.path.split("/")  # "", "v1", "videos", endpoint, id
        if request.method == "GET" and len(parts) == 5 and parts[3] in ENDPOINTS:
            return self.kling.query(request, parts[3], parts[4])
        return super()._reply_for(request)


@dataclass
class KlingServer:
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    api_key: str = API_KEY
    packs: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server = _Loopback(self)
        self.tasks: dict[str, Task] = {}
        self.tokens: list[str] = []  # the Bearer tokens accepted, in order
        self._steps: list[Step | Reply] = [Step("succeed")]
        self._submit_replies: list[Reply | Created] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._url = ""

    def __enter__(self) -> Self:
        self.server.start()
        self._url = self.server.url
        for endpoint in ENDPOINTS:
            self.server.route(f"/v1/videos/{endpoint}", self._submit, method="POST")
        self.server.route("/account/costs", self._costs, method="GET")
        self.server.route(VIDEO_PATH, body=sample_mp4(), headers={"Content-Type": "video/mp4"})
        self.server.route(EXPIRED_PATH, status=403, body="AccessDenied: Request has expired")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return self._url

    # Scripting

    def script(self, *steps: Step | Reply) -> None:
        """What every task's queries answer, in turn; the last one repeats."""
        with self._lock:
            self._steps = list(steps)

    def on_submit(self, *replies: Reply | Created) -> None:
        """Answer the next submits with these, in turn, before answering normally."""
        with self._lock:
            self._submit_replies = list(replies)

    def provider_row(self, *, name: str = "kling", **fields: Any) -> Provider:
        fields.setdefault(
            "credentials", {"access_key": self.access_key, "secret_key": self.secret_key}
        )
        fields.setdefault("priority", 10)
        return Provider.objects.create(name=name, kind=Provider.KLING, base_url=self.url, **fields)

    # What arrived

    @property
    def submits(self) -> list[Received]:
        return [r for r in self.server.requests if r.method == "POST"]

    @property
    def queries(self) -> list[Received]:
        return [r for r in self.server.requests if r.path.startswith("/v1/videos/")]

    # Handlers

    def unauthorized(self, request: Received) -> Reply | None:
        header = request.header("Authorization") or ""
        if not header:
            return kling_error(1001)
        scheme, _, token = header.partition(" ")
        if scheme != "Bearer" or not token:
            return kling_error(1002)
        if not (self.api_key and hmac.compare_digest(token, self.api_key)):
            try:
                jwt.decode(
                    token,
                    self.secret_key,
                    algorithms=["HS256"],
                    issuer=self.access_key,
                    options={"require": ["iss", "exp", "nbf"]},
                )
            except jwt.ExpiredSignatureError:
                return kling_error(1004)
            except jwt.ImmatureSignatureError:
                return kling_error(1003)
            except jwt.InvalidTokenError:
                return kling_error(1002)
        with self._lock:
            self.tokens.append(token)
        return None

    def _submit(self, request: Received) -> Reply:
        refused = self.unauthorized(request)
        if refused is not None:
            return refused
        endpoint = request.path.rsplit("/", 1)[1]
        with self._lock:
            scripted = self._submit_replies.pop(0) if self._submit_replies else None
        if isinstance(scripted, Reply):
            return scripted
        try:
            body = request.json()
        except ValueError:
            return kling_error(1200, "the body is not JSON")
        problem = invalid(endpoint, body) if isinstance(body, dict) else "the body is not an object"
        if problem:
            return kling_error(1201, problem)
        external = body.get("external_task_id") or ""
        with self._lock:
            if external and any(t.external_task_id == external for t in self.tasks.values()):
                return kling_error(1201, f"external_task_id {external} already exists")
            task = Task(str(780000000000000000 + next(self._ids)), endpoint, external, body)
            self.tasks[task.task_id] = task
        if isinstance(scripted, Created):
            return scripted.reply
        return ok(self.task_data(task, Step("submitted")))

    def query(self, request: Received, endpoint: str, task_id: str) -> Reply:
        refused = self.unauthorized(request)
        if refused is not None:
            return refused
        with self._lock:
            task = self.tasks.get(task_id)
            by_external = task is None
            if by_external:  # "choose either task_id or external_task_id"
                task = next((t for t in self.tasks.values() if t.external_task_id == task_id), None)
            if task is None or task.endpoint != endpoint:
                return kling_error(1203, f"task {task_id} not found")
            if by_external:  # a look-up, not one of the scripted polls
                step: Step | Reply = Step("submitted")
            else:
                step = self._steps[min(task.queries, len(self._steps) - 1)]
                task.queries += 1
        return step if isinstance(step, Reply) else ok(self.task_data(task, step))

    def task_data(self, task: Task, step: Step) -> dict[str, Any]:
        now = int(time.time() * 1000)
        data: dict[str, Any] = {
            "task_id": task.task_id,
            "task_status": step.status,
            "task_info": {"external_task_id": task.external_task_id},
            "created_at": now - 5000,
            "updated_at": now,
        }
        if step.status == "submitted":
            return data
        data.update(
            task_status_msg=step.message,
            watermark_info={"enabled": False},
            final_unit_deduction=step.units if step.status == "succeed" else "0",
        )
        if step.status == "succeed":
            urls = [self.url + VIDEO_PATH] if step.videos is None else step.videos
            data["task_result"] = {
                "videos": [
                    {"id": f"v{index}", "url": url, "watermark_url": "", "duration": "5.1"}
                    for index, url in enumerate(urls)
                ]
            }
        return data

    def _costs(self, request: Received) -> Reply:
        refused = self.unauthorized(request)
        if refused is not None:
            return refused
        for name in ("start_time", "end_time"):
            value = (request.query.get(name) or [""])[0]
            if not value.isdigit():
                return kling_error(1201, f"{name} is required (Unix milliseconds)")
        packs = self.packs or [
            {
                "resource_pack_name": "Video Generation - 10,000 entries",
                "resource_pack_id": "509f3fd3d4ab4a3f9eec5db27aa44f27",
                "resource_pack_type": "decreasing_total",
                "total_quantity": 200.0,
                "remaining_quantity": 118.0,
                "purchase_time": 1726124664368,
                "effective_time": 1726124664368,
                "invalid_time": 1727366400000,
                "status": "online",
            }
        ]
        return ok({"code": 0, "msg": "", "resource_pack_subscribe_infos": packs})


def ok(data: Any) -> Reply:
    return Reply.json(
        {"code": 0, "message": "SUCCEED", "request_id": str(uuid.uuid4()), "data": data}
    )


def invalid(endpoint: str, body: dict[str, Any]) -> str:
    """What is wrong with a create body, by Kling's documentation; "" when nothing."""
    models, fields = ENDPOINTS[endpoint]
    unknown = sorted(set(body) - fields)
    if unknown:
        return f"{', '.join(unknown)}: not a parameter of {endpoint}"
    for name in REQUIRED.get(endpoint, ()):
        if not body.get(name):
            return f"{name} is required"
    model = body.get("model_name", "kling-v1")
    if model not in models:
        return f"model_name {model} is not supported by {endpoint}"
    for name, allowed in ENUMS.items():
        if name in body and body[name] not in allowed:
            return f"{name} {body[name]!r} is invalid"
    if endpoint == "image2video" and not (body.get("image") or body.get("image_tail")):
        return "image and image_tail cannot both be empty"
    if "master" in model and "mode" in body:
        return f"{model} does not support the mode parameter"
    if model.startswith("kling-v2") and "cfg_scale" in body:
        return f"{model} does not support cfg_scale"
    if model.startswith(SILENT) and body.get("sound") == "on":
        return f"{model} does not support sound"
    return ""
