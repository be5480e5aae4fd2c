"""Fake upstream gateways on loopback, one per contract, scripted per test.

    with FakeUpstream(JOBS) as fake:
        fake.script(Step("queued"), Step("running", progress=40), Step("success"))
        fake.on_submit(Reply.json({"code": 500, "msg": "busy"}, status=500))  # first submit only
        row = fake.provider_row(priority=10)
        ...
        (submit,) = fake.submits          # the requests as the fake received them
        submit.header("Authorization")    # "Bearer <fake.key>"

A fake speaks its contract for real: it checks the Bearer key (401 without
it), hands out task ids, answers polls about unknown tasks with 404, and
serves a real MP4 result and a JPEG thumbnail. Poll scripts hold Steps (a
state in neutral words, rendered in the contract's own words and shape) or
raw Replies (429 with Retry-After, 500, slow or malformed answers); each task
walks the script, its last entry repeating.
"""

from __future__ import annotations

import functools
import io
import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Self
from urllib.parse import quote, urlsplit

import av
import httpx
import numpy as np
from PIL import Image

from playground import providers, services
from playground.models import Generation, Provider
from playground.providers.base import Outcome, Running
from playground.providers.upstream import UpstreamProvider
from tests.httpservers import LoopbackServer, Received, Reply
from tests.processes import wait_for

API_KEY = "sk-live-7f3a9c0e51d24b6b8e2a"  # distinctive, to prove it never leaks
VIDEO_PATH = "/files/result.mp4"
THUMBNAIL_PATH = "/files/thumb.jpg"
VIDEO_SIZE = 64


@functools.cache
def sample_mp4() -> bytes:
    """A real H.264 MP4: 64x64, 1 s at 10 fps, made once per session."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width = stream.height = VIDEO_SIZE
        stream.pix_fmt = "yuv420p"
        for index in range(10):
            pixels = np.full((VIDEO_SIZE, VIDEO_SIZE, 3), index * 20, np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return buffer.getvalue()


@functools.cache
def sample_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (VIDEO_SIZE, VIDEO_SIZE), (30, 90, 200)).save(buffer, format="JPEG")
    return buffer.getvalue()


@dataclass(frozen=True)
class Contract:
    """One upstream contract: paths, state words, result shape, and a model to test it with."""

    kind: str
    submit_path: Callable[[str], str]  # upstream model -> path
    poll_path: Callable[[str], str]
    task_param: str  # the poll's query parameter
    words: dict[str, str]  # queued, running, success, fail -> the contract's words
    result_in_json: bool  # resultJson (a JSON string) rather than resultUrls in data
    model: str  # a catalog model id, and input for it, used by this contract's tests
    input: dict[str, Any]

    def __str__(self) -> str:  # readable pytest ids
        return self.kind


JOBS = Contract(
    kind=Provider.JOBS,
    submit_path=lambda model: "/api/v1/jobs/createTask",
    poll_path=lambda model: "/api/v1/jobs/recordInfo",
    task_param="taskId",
    words={"queued": "waiting", "running": "generating", "success": "success", "fail": "fail"},
    result_in_json=True,
    model="kling/v2-1",
    input={"prompt": "Aerial shot over coastal cliffs at golden hour", "resolution": "480p"},
)
VIDEO_GENERATIONS = Contract(
    kind=Provider.VIDEO_GENERATIONS,
    submit_path=lambda model: "/api/v1/video/generations",
    poll_path=lambda model: "/api/v1/video/generations",
    task_param="task_id",
    words={
        "queued": "pending",
        "running": "processing",
        "success": "completed",
        "fail": "failed",
    },
    result_in_json=False,
    model="kling-v2-6",
    input={"prompt": "A girl dancing on the beach at sunset", "mode": "std", "duration": "5"},
)
GENERATE_TASK = Contract(
    kind=Provider.GENERATE_TASK,
    # The paths as they arrive: a model name is one percent-encoded segment.
    submit_path=lambda model: f"/api/v1/generateTask/{quote(model, safe='')}",
    poll_path=lambda model: f"/api/v1/statusTask/{quote(model, safe='')}",
    task_param="taskId",
    words={"queued": "pending", "running": "processing", "success": "success", "fail": "failed"},
    result_in_json=True,
    model="kling-2-1",
    input={"mode": "master-text-to-video", "prompt": "A lighthouse in a storm, waves crashing"},
)
CONTRACTS = [JOBS, VIDEO_GENERATIONS, GENERATE_TASK]


@dataclass(frozen=True)
class Step:
    """One poll answer: `state` is queued, running, success or fail (or any word, sent as is)."""

    state: str
    progress: int | None = None
    fail_code: str | None = None
    fail_msg: str | None = None
    result_urls: list[str] | None = None  # None: the fake's own video
    thumbnail: bool = True


def envelope(code: int, msg: str, *, status: int | None = None, **fields: Any) -> Reply:
    """An error answer in the contracts' envelope; the HTTP status is the code unless given."""
    return Reply.json({"code": code, "msg": msg, "data": None}, status=status or code, **fields)


MALFORMED = Reply(
    body='{"code": 200, "data": {"taskId', headers={"Content-Type": "application/json"}
)


@dataclass
class FakeUpstream:
    contract: Contract
    model: str = ""  # the upstream model name the fake serves (default: the contract's)
    key: str = API_KEY
    server: LoopbackServer = field(default_factory=LoopbackServer)

    def __post_init__(self) -> None:
        self.model = self.model or self.contract.model
        self.tasks: dict[str, int] = {}  # task id -> polls answered
        self._steps: list[Step | Reply] = [Step("success")]
        self._submit_replies: list[Reply] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._url = ""

    # Lifecycle

    def __enter__(self) -> Self:
        self.server.start()
        self._url = self.server.url  # kept for assertions after the server stopped
        self.server.route(self.contract.submit_path(self.model), self._submit, method="POST")
        self.server.route(self.contract.poll_path(self.model), self._poll, method="GET")
        self.server.route(VIDEO_PATH, body=sample_mp4(), headers={"Content-Type": "video/mp4"})
        self.server.route(
            THUMBNAIL_PATH, body=sample_jpeg(), headers={"Content-Type": "image/jpeg"}
        )
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return self._url

    # Scripting

    def script(self, *steps: Step | Reply) -> None:
        """What every task's polls answer, in turn; the last one repeats."""
        with self._lock:
            self._steps = list(steps)

    def on_submit(self, *replies: Reply) -> None:
        """Answer the next submits with these replies, in turn, before answering normally."""
        with self._lock:
            self._submit_replies = list(replies)

    def provider_row(self, *, name: str = "", priority: int = 10, **fields: Any) -> Provider:
        fields.setdefault("credentials", {"api_key": self.key})
        return Provider.objects.create(
            name=name or f"fake {self.contract.kind}",
            kind=self.contract.kind,
            base_url=self.url,
            priority=priority,
            **fields,
        )

    # What arrived

    @property
    def submits(self) -> list[Received]:
        path = self.contract.submit_path(self.model)
        return [r for r in self.server.requests_to(path) if r.method == "POST"]

    @property
    def polls(self) -> list[Received]:
        path = self.contract.poll_path(self.model)
        return [r for r in self.server.requests_to(path) if r.method == "GET"]

    # Handlers

    def _authorized(self, request: Received) -> bool:
        return request.header("Authorization") == f"Bearer {self.key}"

    def _submit(self, request: Received) -> Reply:
        if not self._authorized(request):
            return envelope(401, "Unauthorized: invalid or missing API key")
        with self._lock:
            if self._submit_replies:
                return self._submit_replies.pop(0)
            task_id = f"task_{self.contract.kind}_{next(self._ids)}"
            self.tasks[task_id] = 0
        data: dict[str, Any] = {"taskId": task_id}
        if self.contract.kind == Provider.VIDEO_GENERATIONS:
            data.update(state="pending", model=self.model)
        return Reply.json({"code": 200, "msg": "success", "data": data})

    def _poll(self, request: Received) -> Reply:
        if not self._authorized(request):
            return envelope(401, "Unauthorized: invalid or missing API key")
        task_id = (request.query.get(self.contract.task_param) or [""])[0]
        with self._lock:
            if task_id not in self.tasks:
                return envelope(404, f"Task {task_id} not found")
            step = self._steps[min(self.tasks[task_id], len(self._steps) - 1)]
            self.tasks[task_id] += 1
        if isinstance(step, Reply):
            return step
        return Reply.json({"code": 200, "msg": "success", "data": self._status(task_id, step)})

    def _status(self, task_id: str, step: Step) -> dict[str, Any]:
        data: dict[str, Any] = {
            "taskId": task_id,
            "model": self.model,
            "state": self.contract.words.get(step.state, step.state),
            "createTime": 1705123450000,
        }
        if step.progress is not None:
            data["progress"] = step.progress
        if step.state == "fail":
            data.update(failCode=step.fail_code, failMsg=step.fail_msg)
            if self.contract.result_in_json:
                data["resultJson"] = None
        if step.state == "success":
            urls = [self.url + VIDEO_PATH] if step.result_urls is None else step.result_urls
            result: dict[str, Any] = {"resultUrls": urls}
            if step.thumbnail:
                result["thumbnailUrl"] = self.url + THUMBNAIL_PATH
            if self.contract.result_in_json:
                data["resultJson"] = json.dumps(result)
            else:
                data["resultUrls"] = urls
            data["completeTime"] = 1705123500000
        return data


@dataclass(frozen=True)
class SignedCallback:
    """A callback as an upstream sends it to the URL it was given: its headers and raw body."""

    url: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        """The URL without its origin, for Django's test client."""
        return urlsplit(self.url).path

    def changed(self, **fields: Any) -> SignedCallback:
        """The same callback with other headers or another body, its signature unchanged."""
        return replace(self, **fields)

    def post(self, client):
        """POST it, as the upstream would, through Django's test client."""
        return client.post(
            self.path, data=self.body, content_type="application/json", headers=self.headers
        )

    def send(self):
        """POST it over the network to its URL (a live server), as the upstream does."""
        headers = {"Content-Type": "application/json", **self.headers}
        return httpx.post(self.url, content=self.body, headers=headers, timeout=10)


def finish(generation: Generation, timeout: float = 30) -> Generation:
    """Wait until the real worker has finished `generation`; return it reloaded."""
    wait_for(
        lambda: Generation.objects.filter(pk=generation.pk, state__in=Generation.FINISHED).exists(),
        timeout=timeout,
        message=f"{generation.task_id} to finish",
    )
    generation.refresh_from_db()
    return generation


# Driving an adapter directly, without the worker


def adapter(row: Provider) -> UpstreamProvider:
    provider = providers.for_row(row)
    assert isinstance(provider, UpstreamProvider)
    return provider


def new_generation(user, contract: Contract, **fields: Any) -> Generation:
    """A generation of the contract's model as the submit service makes it (credits held)."""
    generation = services.submit(user=user, model=contract.model, input=contract.input)
    for name, value in fields.items():
        setattr(generation, name, value)
    return generation


def keep_lease(percent: int) -> bool:
    """The progress callback of a worker that still holds its lease."""
    return True


def submitted(provider: UpstreamProvider, generation: Generation, tmp_path) -> Generation:
    """Submit through `provider`, as the engine does, and keep the upstream's reference."""
    outcome = provider.start(generation, tmp_path, keep_lease)
    assert isinstance(outcome, Running), outcome
    generation.upstream_ref = outcome.reference
    return generation


@dataclass(frozen=True)
class Exchange:
    """One submit and polls through a fake: what the adapter concluded, what the fake received."""

    fake: FakeUpstream
    generation: Generation
    outcomes: list[Outcome]

    @property
    def submit(self) -> Received:
        (request,) = self.fake.submits
        return request


def exchange(
    user, contract: Contract, tmp_path, *script: Step | Reply, polls: int = 1, upstream_model=""
) -> Exchange:
    """Submit the contract's model to a fake scripted with `script`, then poll `polls` times.

    With `upstream_model`, the provider maps the model to that upstream name.
    """
    with FakeUpstream(contract, model=upstream_model) as fake:
        if script:
            fake.script(*script)
        model_map = {contract.model: upstream_model} if upstream_model else {}
        provider = adapter(fake.provider_row(model_map=model_map))
        generation = submitted(provider, new_generation(user, contract), tmp_path)
        outcomes = [provider.poll(generation) for _ in range(polls)]
    return Exchange(fake, generation, outcomes)
