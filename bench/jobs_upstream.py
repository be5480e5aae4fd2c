"""A loopback upstream speaking the jobs contract, slow on purpose: the `inflight` part's.

    .venv/bin/python bench/jobs_upstream.py --port 8123 --video clip.mp4 --log events.jsonl

POST /api/v1/jobs/createTask          -> {code: 200, data: {taskId}}
GET  /api/v1/jobs/recordInfo?taskId=  -> {code: 200, data: {state, resultJson}}
GET  /files/<taskId>.mp4              -> the video (every task has the same one)

Every answer takes --delay seconds (1 s: a real upstream's status call takes
hundreds of milliseconds to seconds), waited with asyncio.sleep, so any
number of requests wait at once. A task is `generating` until its ready
moment, drawn uniformly from --ready seconds after its creation, and
`success` from then on; the state is read when the answer is sent.

One asyncio loop on asyncio streams, HTTP/1.1 with keep-alive: the poller
under test holds hundreds of connections open. What happened is written to
--log as JSON lines when the process is stopped (SIGTERM or SIGINT): each
task's creation and ready moments, each status call's arrival and answer
(with the state answered) and each download, in seconds since the epoch, so
they compare with the database's timestamps on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import signal
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

MAX_BODY = 1024 * 1024


class Upstream:
    def __init__(self, *, port: int, delay: float, ready: tuple[float, float], video: bytes):
        self.port = port
        self.delay = delay
        self.ready = ready
        self.video = video
        self.tasks: dict[str, tuple[float, float]] = {}  # taskId -> (created, ready)
        self.events: list[list] = []

    def result_url(self, task_id: str) -> str:
        return f"http://127.0.0.1:{self.port}/files/{task_id}.mp4"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request_line = await reader.readline()
                if not request_line.strip():
                    return
                method, target, _ = request_line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                if length > MAX_BODY:
                    return
                body = await reader.readexactly(length) if length else b""
                arrived = time.time()
                await asyncio.sleep(self.delay)
                status, content_type, payload = self.answer(method, target, body, arrived)
                keep = headers.get("connection", "").lower() != "close"
                head = (
                    f"HTTP/1.1 {status} {'OK' if status == 200 else 'Not Found'}\r\n"
                    f"Content-Type: {content_type}\r\n"
                    f"Content-Length: {len(payload)}\r\n"
                    f"Connection: {'keep-alive' if keep else 'close'}\r\n\r\n"
                )
                writer.write(head.encode("latin-1") + payload)
                await writer.drain()
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            return
        finally:
            writer.close()

    def answer(self, method: str, target: str, body: bytes, arrived: float):
        parts = urlsplit(target)
        now = time.time()
        if method == "POST" and parts.path == "/api/v1/jobs/createTask":
            task_id = uuid.uuid4().hex
            ready = now + random.uniform(*self.ready)
            self.tasks[task_id] = (now, ready)
            self.events.append(["task", task_id, now, ready])
            return self.envelope({"taskId": task_id})
        if method == "GET" and parts.path == "/api/v1/jobs/recordInfo":
            task_id = parse_qs(parts.query).get("taskId", [""])[0]
            task = self.tasks.get(task_id)
            if task is None:
                return self.envelope(None, code=404, msg="no such task")
            done = now >= task[1]
            self.events.append(["poll", task_id, arrived, now, done])
            data = {"taskId": task_id, "state": "success" if done else "generating"}
            if done:
                data["resultJson"] = json.dumps({"resultUrls": [self.result_url(task_id)]})
            return self.envelope(data)
        if method == "GET" and parts.path.startswith("/files/"):
            self.events.append(["download", parts.path[7:].removesuffix(".mp4"), arrived, now])
            return 200, "video/mp4", self.video
        return self.envelope(None, code=404, msg="not found", status=404)

    @staticmethod
    def envelope(data, *, code: int = 200, msg: str = "success", status: int = 200):
        payload = json.dumps({"code": code, "msg": msg, "data": data}).encode()
        return status, "application/json", payload


async def serve(upstream: Upstream, log: Path) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = await asyncio.start_server(
        upstream.handle, "127.0.0.1", upstream.port, backlog=4096, reuse_address=True
    )
    print(f"listening on 127.0.0.1:{upstream.port}", flush=True)
    async with server:
        await stop.wait()
    with open(log, "w") as out:
        for event in upstream.events:
            out.write(json.dumps(event) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=1.0, help="seconds every answer takes")
    parser.add_argument(
        "--ready", default="30,120", help="a task is ready this many seconds after it was created"
    )
    parser.add_argument("--video", type=Path, required=True, help="the MP4 every result serves")
    parser.add_argument("--log", type=Path, required=True, help="events, written when stopped")
    args = parser.parse_args()
    low, high = (float(value) for value in args.ready.split(","))
    # Hundreds of keep-alive connections at once: as many descriptors as allowed.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    upstream = Upstream(
        port=args.port, delay=args.delay, ready=(low, high), video=args.video.read_bytes()
    )
    asyncio.run(serve(upstream, args.log))
    return 0


if __name__ == "__main__":
    sys.exit(main())
