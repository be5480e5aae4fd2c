"""A loopback Kie.ai Veo 3.1 API: /api/v1/veo/generate, record-info, and the credit balance.

    with KieVeoServer() as server:
        server.script(Record(0), Record(1))
        server.on_submit(kie_error(402, "Insufficient credits"))
        row = server.provider_row()
        ...
        (generate,) = server.generates      # generate.json() is the body as sent

What it checks and answers, as Kie documents it:
- `Authorization: Bearer <key>`, else `{"code": 401, "msg": ...}` inside an HTTP 200,
  as Kie answers (its errors carry their code in the envelope).
- POST /api/v1/veo/generate: JSON with `prompt` and a `model` of veo3 | veo3_fast
  (else code 422), aspect ratio 16:9 | 9:16 | Auto (else 422 "Ratio error"), no
  `callBackUrl` needed; answers `{code: 200, msg: "success", data: {taskId}}`.
- GET /api/v1/veo/record-info?taskId=: the record as the task walks the script (its
  last entry repeating); an unknown taskId answers code 404.
- GET /api/v1/chat/credit: `{code: 200, data: <credits>}`.
- The result at /files/<taskId>.mp4, a real MP4 without auth, as Kie's CDN serves it;
  Record(1, expired=True) hands out a URL that answers 404.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from typing import Any, Self

from playground.models import Provider
from tests.contract.fakes import API_KEY, sample_mp4
from tests.httpservers import LoopbackServer, Received, Reply

GENERATE = "/api/v1/veo/generate"
RECORD = "/api/v1/veo/record-info"
CREDIT = "/api/v1/chat/credit"
VIDEO = "/files/result.mp4"
EXPIRED = "/files/expired.mp4"
MODELS = ("veo3", "veo3_fast")
RATIOS = ("16:9", "9:16", "Auto")


@dataclass(frozen=True)
class Record:
    """One record-info answer: `flag` is successFlag (any value, sent as is)."""

    flag: Any
    error_message: str | None = None
    error_code: Any = None
    result_urls: list[Any] | None = None  # None: the server's own video
    expired: bool = False


def kie_error(code: int, msg: str, *, status: int = 200, **fields: Any) -> Reply:
    """An error in Kie's envelope; HTTP 200 unless given, as Kie mostly answers."""
    return Reply.json({"code": code, "msg": msg, "data": None}, status=status, **fields)


@dataclass
class KieVeoServer:
    key: str = API_KEY
    credits: float = 738.0
    server: LoopbackServer = field(default_factory=LoopbackServer)

    def __post_init__(self) -> None:
        self.tasks: dict[str, int] = {}  # taskId -> polls answered
        self.bodies: dict[str, dict[str, Any]] = {}  # taskId -> the generate body
        self._steps: list[Record | Reply] = [Record(1)]
        self._submit_replies: list[Reply] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._url = ""

    def __enter__(self) -> Self:
        self.server.start()
        self._url = self.server.url
        self.server.route(GENERATE, self._generate, method="POST")
        self.server.route(RECORD, self._record, method="GET")
        self.server.route(CREDIT, self._credit, method="GET")
        self.server.route(VIDEO, body=sample_mp4(), headers={"Content-Type": "video/mp4"})
        self.server.route(
            EXPIRED,
            status=404,
            body="<Error><Code>NoSuchKey</Code></Error>",
            headers={"Content-Type": "application/xml"},
        )
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return self._url

    # Scripting

    def script(self, *steps: Record | Reply) -> None:
        with self._lock:
            self._steps = list(steps)

    def on_submit(self, *replies: Reply) -> None:
        with self._lock:
            self._submit_replies = list(replies)

    def provider_row(self, *, name: str = "kie veo", priority: int = 10, **fields) -> Provider:
        fields.setdefault("credentials", {"api_key": self.key})
        return Provider.objects.create(
            name=name, kind=Provider.KIE_VEO, base_url=self.url, priority=priority, **fields
        )

    # What arrived

    @property
    def generates(self) -> list[Received]:
        return self.server.requests_to(GENERATE)

    @property
    def records(self) -> list[Received]:
        return self.server.requests_to(RECORD)

    # Handlers

    def _refused(self, request: Received) -> Reply | None:
        if request.header("Authorization") == f"Bearer {self.key}":
            return None
        return kie_error(401, "You do not have access permissions")

    def _credit(self, request: Received) -> Reply:
        return self._refused(request) or Reply.json(
            {"code": 200, "msg": "success", "data": self.credits}
        )

    def _generate(self, request: Received) -> Reply:
        refused = self._refused(request)
        if refused is not None:
            return refused
        try:
            body = request.json()
        except ValueError:
            return kie_error(400, "The request body is not JSON")
        if not isinstance(body, dict) or not body.get("prompt"):
            return kie_error(422, "prompt is required")
        if body.get("model", "veo3_fast") not in MODELS:
            return kie_error(422, f"model must be one of {', '.join(MODELS)}")
        ratio = body.get("aspect_ratio", body.get("aspectRatio", "16:9"))
        if ratio not in RATIOS:
            return kie_error(422, "Ratio error")
        with self._lock:
            if self._submit_replies:
                return self._submit_replies.pop(0)
            task_id = f"veo_task_{next(self._ids)}"
            self.tasks[task_id] = 0
            self.bodies[task_id] = body
        return Reply.json({"code": 200, "msg": "success", "data": {"taskId": task_id}})

    def _record(self, request: Received) -> Reply:
        refused = self._refused(request)
        if refused is not None:
            return refused
        task_id = (request.query.get("taskId") or [""])[0]
        with self._lock:
            if task_id not in self.tasks:
                return kie_error(404, f"Task {task_id} not found")
            step = self._steps[min(self.tasks[task_id], len(self._steps) - 1)]
            self.tasks[task_id] += 1
        if isinstance(step, Reply):
            return step
        return Reply.json({"code": 200, "msg": "success", "data": self._data(task_id, step)})

    def _data(self, task_id: str, step: Record) -> dict[str, Any]:
        data: dict[str, Any] = {
            "taskId": task_id,
            "paramJson": json.dumps(self.bodies[task_id]),
            "createTime": "2025-06-06 10:25:00",
            "completeTime": None,
            "successFlag": step.flag,
            "errorCode": step.error_code,
            "errorMessage": step.error_message or "",
            "fallbackFlag": False,
            "response": None,
        }
        if step.flag in (1, "1"):  # 1.0 too
            path = EXPIRED if step.expired else VIDEO
            urls = [self.url + path] if step.result_urls is None else step.result_urls
            data["response"] = {
                "taskId": task_id,
                "resultUrls": urls,
                "originUrls": None,
                "resolution": "720p",
            }
            data["completeTime"] = "2025-06-06 10:28:00"
        return data
