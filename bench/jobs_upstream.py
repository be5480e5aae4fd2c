"""A loopback upstream speaking the jobs contract, slow on purpose: the `inflight` part's.

    .venv/bin/python bench/jobs_upstream.py --port 8123 --video clip.mp4 --log events.jsonl

POST /api/v1/jobs/createTask          -> {code: 200, data: {taskId}}
GET  /api/v1/jobs/recordInfo?taskId=  -> {code: 200, data: {state, resultJson}}
GET  /files/<taskId>.mp4              -> the video (every task has the same one)

Every API answer takes --delay seconds (1 s: a real upstream's status call
takes hundreds of milliseconds to seconds), waited with asyncio.sleep, so
any number of requests wait at once; a result file takes --file-delay (real
upstreams serve results from a CDN or a bucket, not from their API). A task
is `generating` until its ready moment, drawn uniformly from --ready seconds
after its creation, and `success` from then on; the state is read when the
answer is sent. A task created with a `callBackUrl` is called back at its
ready moment, as the jobs contract does: a POST of its success record.

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
    def __init__(
        self,
        *,
        port: int,
        delay: float,
        file_delay: float,
        ready: tuple[float, float],
        video: bytes,
    ):
        self.port = port
        self.delay = delay
        self.file_delay = file_delay
        self.ready = ready
        self.video = video
        self.tasks: dict[str, tuple[float, float]] = {}  # taskId -> (created, ready)
        self.callbacks: set[asyncio.Future] = set()  # kept, or asyncio may drop them
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
                file = target.startswith("/files/")
                await asyncio.sleep(self.file_delay if file else self.delay)
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
            callback = json.loads(body or b"{}").get("callBackUrl")
            if callback:
                call = self.call_back(callback, task_id)
                asyncio.get_running_loop().call_later(
                    ready - now, lambda: self.callbacks.add(asyncio.ensure_future(call))
                )
            return self.envelope({"taskId": task_id})
        if method == "GET" and parts.path == "/api/v1/jobs/recordInfo":
            task_id = parse_qs(parts.query).get("taskId", [""])[0]
            task = self.tasks.get(task_id)
            if task is None:
                return self.envelope(None, code=404, msg="no such task")
            done = now >= task[1]
            self.events.append(["poll", task_id, arrived, now, done])
            data = self.success(task_id) if done else {"taskId": task_id, "state": "generating"}
            return self.envelope(data)
        if method == "GET" and parts.path.startswith("/files/"):
            self.events.append(["download", parts.path[7:].removesuffix(".mp4"), arrived, now])
            return 200, "video/mp4", self.video
        return self.envelope(None, code=404, msg="not found", status=404)

    def success(self, task_id: str) -> dict:
        result = json.dumps({"resultUrls": [self.result_url(task_id)]})
        return {"taskId": task_id, "state": "success", "resultJson": result}

    async def call_back(self, url: str, task_id: str) -> None:
        """POST the task's success record to its callBackUrl (plain HTTP, one connection)."""
        parts = urlsplit(url)
        body = json.dumps({"code": 200, "msg": "success", "data": self.success(task_id)})
        sent, status = time.time(), 0
        try:
            reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            writer.write(
                (
                    f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                    "Content-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}"
                ).encode()
            )
            await writer.drain()
            status = int((await reader.readline()).split()[1])
            writer.close()
        except (OSError, ValueError, IndexError):
            pass
        self.events.append(["callback", task_id, sent, status])

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
        "--file-delay", type=float, default=None, help="seconds a result file takes (--delay)"
    )
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
        port=args.port,
        delay=args.delay,
        file_delay=args.delay if args.file_delay is None else args.file_delay,
        ready=(low, high),
        video=args.video.read_bytes(),
    )
    asyncio.run(serve(upstream, args.log))
    return 0


if __name__ == "__main__":
    sys.exit(main())
