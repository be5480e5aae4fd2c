"""A loopback OpenAI videos API, as openai-python's `client.videos` speaks it, and new-api's shapes.

    with OpenAIVideosServer() as server:
        server.script(Status("queued"), Status("in_progress", progress=40), Status("completed"))
        server.on_submit(openai_error(429, "Rate limit reached", "rate_limit_exceeded",
                                      headers={"Retry-After": "7"}))
        row = server.provider_row()
        ...
        (create,) = server.creates
        form = parse_form(create)   # form.fields["prompt"] == ["..."], form.files[...]

What it checks and answers, as the contract documents it:
- `Authorization: Bearer <key>`, else 401 `{"error": {message, type, param, code:
  "invalid_api_key"}}` on every path.
- POST /v1/videos: multipart/form-data only (what the SDK sends), `prompt` required,
  an `input_reference` part must be an image; answers a Video object (status queued)
  under a new id, `video_<n>` (new-api: `task_<n>`).
- GET /v1/videos/{id}: the Video object as the task walks the script (its last entry
  repeating); unknown ids 404 in the error shape.
- GET /v1/videos/{id}/content: the MP4 once the task has completed (?variant=thumbnail
  a JPEG), 404 before, and 404 "expired" after a Status(expired=True).
- GET /v1/models: the model list (the credential check).
- /inputs/image.jpg and /inputs/page.html: an image input and one that is no image.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

from playground.models import Provider
from tests.contract.fakes import API_KEY, sample_jpeg, sample_mp4
from tests.httpservers import LoopbackServer, Received, Reply

VIDEOS = "/v1/videos"
IMAGE_INPUT = "/inputs/image.jpg"
HTML_INPUT = "/inputs/page.html"
IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"RIFF")


@dataclass(frozen=True)
class Status:
    """One retrieve answer: `status` as sent (any word), and what goes with it."""

    status: str
    progress: int | str | None = None
    error: dict[str, Any] | None = None  # {"code", "message"}
    url: str | None = None  # a download URL in metadata.url, as new-api gives one
    expired: bool = False  # /content answers 404 from now on


@dataclass(frozen=True)
class Form:
    fields: dict[str, list[str]]
    files: dict[str, tuple[str | None, str, bytes]]  # name -> (filename, content type, bytes)


def parse_form(request: Received) -> Form:
    """A multipart/form-data body, parsed as a server would; AssertionError if it is not one."""
    content_type = request.header("Content-Type") or ""
    assert content_type.startswith("multipart/form-data"), content_type
    message = email.message_from_bytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + request.body,
        policy=email.policy.HTTP,
    )
    fields: dict[str, list[str]] = {}
    files: dict[str, tuple[str | None, str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if part.get_filename() is not None:
            files[name] = (part.get_filename(), part.get_content_type(), payload)
        else:
            fields.setdefault(name, []).append(payload.decode())
    return Form(fields, files)


def openai_error(
    status: int, message: str, code: str | None = None, kind: str = "invalid_request_error", **kw
) -> Reply:
    """An error in OpenAI's shape."""
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return Reply.json(body, status=status, **kw)


def new_api_error(status: int, message: str, code: str, **kw) -> Reply:
    """An error in new-api's task shape."""
    return Reply.json({"code": code, "message": message, "data": None}, status=status, **kw)


class _Server(LoopbackServer):
    """A LoopbackServer that hands every /v1/videos/{id}... path to one function."""

    def __init__(self, videos: Callable[[Received], Reply]) -> None:
        super().__init__()
        self.videos = videos

    def _reply_for(self, request: Received) -> Reply:
        if request.path.startswith(VIDEOS + "/"):
            return self.videos(request)
        return super()._reply_for(request)


@dataclass
class OpenAIVideosServer:
    key: str = API_KEY
    id_prefix: str = "video_"  # new-api: "task_"
    server: LoopbackServer = field(init=False)

    def __post_init__(self) -> None:
        self.server = _Server(self._video_paths)
        self.tasks: dict[str, dict[str, Any]] = {}  # id -> polls answered, done, expired
        self._steps: list[Status | Reply] = [Status("completed")]
        self._submit_replies: list[Reply] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._url = ""

    def __enter__(self) -> Self:
        self.server.start()
        self._url = self.server.url
        self.server.route(VIDEOS, self._create, method="POST")
        self.server.route("/v1/models", self._models, method="GET")
        self.server.route(IMAGE_INPUT, body=sample_jpeg(), headers={"Content-Type": "image/jpeg"})
        self.server.route(HTML_INPUT, body="<html>not an image</html>")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return self._url

    # Scripting

    def script(self, *steps: Status | Reply) -> None:
        with self._lock:
            self._steps = list(steps)

    def on_submit(self, *replies: Reply) -> None:
        with self._lock:
            self._submit_replies = list(replies)

    def provider_row(
        self, *, name: str = "openai videos", priority: int = 10, **fields
    ) -> Provider:
        fields.setdefault("credentials", {"api_key": self.key})
        return Provider.objects.create(
            name=name, kind=Provider.OPENAI_VIDEOS, base_url=self.url, priority=priority, **fields
        )

    # What arrived

    @property
    def creates(self) -> list[Received]:
        return [r for r in self.server.requests_to(VIDEOS) if r.method == "POST"]

    def polls(self, video_id: str) -> list[Received]:
        return self.server.requests_to(f"{VIDEOS}/{video_id}")

    def contents(self, video_id: str) -> list[Received]:
        return self.server.requests_to(f"{VIDEOS}/{video_id}/content")

    # Handlers

    def _refused(self, request: Received) -> Reply | None:
        if request.header("Authorization") == f"Bearer {self.key}":
            return None
        return openai_error(
            401,
            "Incorrect API key provided. You can find your API key in your account settings.",
            "invalid_api_key",
        )

    def _models(self, request: Received) -> Reply:
        refused = self._refused(request)
        if refused is not None:
            return refused
        models = [{"id": name, "object": "model", "owned_by": "system"} for name in ("sora-2",)]
        return Reply.json({"object": "list", "data": models})

    def _create(self, request: Received) -> Reply:
        refused = self._refused(request)
        if refused is not None:
            return refused
        if not (request.header("Content-Type") or "").startswith("multipart/form-data"):
            return openai_error(400, "Expected a multipart/form-data body.")
        form = parse_form(request)
        if not form.fields.get("prompt"):
            return openai_error(400, "Missing required parameter: 'prompt'.", "missing_required")
        reference = form.files.get("input_reference")
        if reference is not None and not reference[2].startswith(IMAGE_MAGIC):
            return openai_error(400, "input_reference must be an image.", "invalid_image")
        with self._lock:
            if self._submit_replies:
                return self._submit_replies.pop(0)
            video_id = f"{self.id_prefix}{next(self._ids)}"
            self.tasks[video_id] = {"polls": 0, "done": False, "expired": False}
        first = {name: values[-1] for name, values in form.fields.items()}
        return Reply.json(self._video(video_id, first, Status("queued", progress=0)))

    def _video(self, video_id: str, fields: dict[str, str], step: Status) -> dict[str, Any]:
        video: dict[str, Any] = {
            "id": video_id,
            "object": "video",
            "model": fields.get("model", "sora-2"),
            "status": step.status,
            "progress": step.progress,
            "created_at": int(time.time()),
            "seconds": fields.get("seconds", "4"),
            "size": fields.get("size", "720x1280"),
            "error": step.error,
        }
        if step.url is not None:
            video["metadata"] = {"url": step.url}
        return video

    def _video_paths(self, request: Received) -> Reply:
        refused = self._refused(request)
        if refused is not None:
            return refused
        rest = request.path[len(VIDEOS) + 1 :]
        video_id, _, tail = rest.partition("/")
        with self._lock:
            task = self.tasks.get(video_id)
        if task is None or tail not in ("", "content") or request.method != "GET":
            return openai_error(404, f"Video with id '{video_id}' not found.", "not_found")
        if tail == "content":
            return self._content(request, task)
        with self._lock:
            step = self._steps[min(task["polls"], len(self._steps) - 1)]
            task["polls"] += 1
        if isinstance(step, Reply):
            return step
        with self._lock:
            task["done"] = task["done"] or step.status.lower() in ("completed", "success")
            task["expired"] = task["expired"] or step.expired
        return Reply.json(self._video(video_id, {}, step))

    def _content(self, request: Received, task: dict[str, Any]) -> Reply:
        if task["expired"]:
            return openai_error(404, "The video's content has expired.", "video_expired")
        if not task["done"]:
            return openai_error(404, "Video is not ready yet.", "video_not_ready")
        if request.query.get("variant") == ["thumbnail"]:
            return Reply(body=sample_jpeg(), headers={"Content-Type": "image/jpeg"})
        return Reply(body=sample_mp4(), headers={"Content-Type": "video/mp4"})
