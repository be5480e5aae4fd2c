"""Real HTTP servers on loopback for tests: scripted answers, every request recorded.

    with LoopbackServer() as server:
        server.route("/image.png", body=PNG, headers={"Content-Type": "text/plain"})
        server.route("/callback", [Reply(status=500), Reply(status=200)])  # in turn, last repeats
        server.route("/moved", Reply.redirect("/image.png"))
        server.route("/slow", Reply(delay=2.0))
        server.route("/big", Reply.stream(lambda: (b"x" * 65536 for _ in range(100))))
        server.route("/echo", lambda request: Reply.json({"got": request.json()}), method="POST")

        outbound.send("POST", server.url + "/callback", json={...}, allow_private=True)
        (request,) = server.requests_to("/callback")
        request.header("User-Agent"), request.json()

Each server is a `http.server.ThreadingHTTPServer` on a free port, speaking
HTTP/1.1 with keep-alive, in a daemon thread. Paths match exactly (the query
is not part of the match); unknown paths answer 404. Replies may be a
`Reply`, a list of them (served in turn, the last one repeating), or a
function of the recorded request returning a `Reply`.
"""

from __future__ import annotations

import json as jsonlib
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

Chunks = Iterable[bytes] | Callable[[], Iterable[bytes]]


@dataclass
class Reply:
    """One scripted answer.

    - `status`, `headers`, `body` (bytes, or str sent as UTF-8 text).
    - `delay`: seconds to wait before answering (to make clients time out).
    - `chunks`: stream the body instead, with chunked transfer encoding and
      no Content-Length; a list, or a function returning an iterable (called
      per request, so a generator can stream more than fits in memory).
      `chunk_delay` waits between chunks.
    - `content_length`: send this Content-Length whatever the body is (to
      test clients that must refuse early on a declared size).
    - `close`: close the connection after answering; `abort`: close it
      without answering at all.
    """

    status: int = 200
    body: bytes | str = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    chunks: Chunks | None = None
    chunk_delay: float = 0.0
    content_length: int | None = None
    close: bool = False
    abort: bool = False

    @classmethod
    def json(cls, data: Any, status: int = 200, **fields: Any) -> Reply:
        headers = {"Content-Type": "application/json", **fields.pop("headers", {})}
        return cls(status=status, body=jsonlib.dumps(data), headers=headers, **fields)

    @classmethod
    def redirect(cls, location: str, status: int = 302, **fields: Any) -> Reply:
        headers = {"Location": location, **fields.pop("headers", {})}
        return cls(status=status, headers=headers, **fields)

    @classmethod
    def stream(cls, chunks: Chunks, *, chunk_delay: float = 0.0, **fields: Any) -> Reply:
        return cls(chunks=chunks, chunk_delay=chunk_delay, **fields)

    def body_bytes(self) -> bytes:
        return self.body.encode() if isinstance(self.body, str) else self.body


@dataclass(frozen=True)
class Received:
    """A request as the server saw it. Header names are lower-cased in `headers`."""

    method: str
    target: str  # path and query as sent
    headers: dict[str, str]
    body: bytes
    client: tuple[str, int]
    at: float  # time.monotonic() when it arrived

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        return jsonlib.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


Handler = Reply | Sequence[Reply] | Callable[[Received], Reply]


class _Route:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.served = 0

    def reply_for(self, request: Received) -> Reply:
        handler = self.handler
        if isinstance(handler, Reply):
            return handler
        if callable(handler):
            return handler(request)
        reply = handler[min(self.served, len(handler) - 1)]
        self.served += 1
        return reply


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog is 5: a burst of concurrent clients (the
    # poller's submits) would overflow it and see connections reset.
    request_queue_size = 128
    owner: LoopbackServer


class _Server6(_Server):
    address_family = socket.AF_INET6


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.owner._connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._connections.discard(self.connection)

    def log_message(self, fmt: str, *args: Any) -> None:
        pass  # tests read .requests instead of stderr

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return bytes(body)
                body += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        owner = self.server.owner
        request = Received(
            method=self.command,
            target=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=self._read_body(),
            client=self.client_address[:2],
            at=time.monotonic(),
        )
        owner._record(request)
        try:
            reply = owner._reply_for(request)
        except Exception:
            owner.errors.append(traceback.format_exc())
            reply = Reply(status=500, body=traceback.format_exc(), close=True)
        if reply.delay and owner._stopping.wait(reply.delay):
            self.close_connection = True
            return
        if reply.abort:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        try:
            self._write(reply)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a size limit, a timeout): not the test's business.
            self.close_connection = True

    def _write(self, reply: Reply) -> None:
        self.send_response(reply.status)
        names = {name.lower() for name in reply.headers}
        for name, value in reply.headers.items():
            self.send_header(name, value)
        streamed = reply.chunks is not None
        body = b"" if streamed else reply.body_bytes()
        if "content-type" not in names and isinstance(reply.body, str):
            self.send_header("Content-Type", "text/plain; charset=utf-8")
        if reply.content_length is not None:
            self.send_header("Content-Length", str(reply.content_length))
        elif streamed:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(body)))
        if reply.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command == "HEAD":
            return
        if not streamed:
            self.wfile.write(body)
            return
        chunked = reply.content_length is None
        chunks = reply.chunks() if callable(reply.chunks) else reply.chunks
        for index, chunk in enumerate(chunks):
            if index and reply.chunk_delay and self.server.owner._stopping.wait(reply.chunk_delay):
                self.close_connection = True
                return
            if not chunk:
                continue
            if chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            else:
                self.wfile.write(chunk)
            self.wfile.flush()
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
        else:
            # A declared length the body did not fill: end the connection so
            # the client sees a short body rather than waiting forever.
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve


class LoopbackServer:
    """A real HTTP server on `host` (127.0.0.1 by default; any 127.x or ::1 works) and a free port.

    Use as a context manager, or call start() and stop(). `url` is the base
    URL without a trailing slash; `requests` lists what arrived, in order.
    """

    def __init__(
        self, host: str = "127.0.0.1", routes: Mapping[str, Handler] | None = None
    ) -> None:
        self.host = host
        self.errors: list[str] = []  # tracebacks of route functions that raised
        self._routes: dict[tuple[str | None, str], _Route] = {}
        self._requests: list[Received] = []
        self._lock = threading.Condition()
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        for path, handler in (routes or {}).items():
            self.route(path, handler)

    # Lifecycle

    def start(self) -> Self:
        server_class = _Server6 if ":" in self.host else _Server
        self._server = server_class((self.host, 0), _RequestHandler)
        self._server.owner = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"loopback-server-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()  # wakes handlers sleeping in a delay
        self._server.shutdown()
        # Keep-alive connections would otherwise hold their threads (and the
        # client's pooled sockets) open after the test.
        for connection in list(self._connections):
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Addresses

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the server is not started")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def url_for(self, path: str = "/") -> str:
        return self.url + (path if path.startswith("/") else "/" + path)

    # Scripting

    def route(
        self,
        path: str,
        handler: Handler | None = None,
        /,
        *,
        method: str | None = None,
        **reply_fields: Any,
    ) -> None:
        """Answer `path` (any method, or only `method`) with `handler`, or a Reply of the fields.

        server.route("/x", status=201, body=b"ok") is server.route("/x", Reply(status=201, ...)).
        Routing the same path again replaces the earlier route.
        """
        if handler is None:
            handler = Reply(**reply_fields)
        elif reply_fields:
            raise TypeError("give either a handler or Reply fields, not both")
        if isinstance(handler, Sequence) and not handler:
            raise ValueError("a list of replies needs at least one")
        with self._lock:
            self._routes[(method.upper() if method else None, path)] = _Route(handler)

    def _reply_for(self, request: Received) -> Reply:
        with self._lock:
            route = self._routes.get((request.method, request.path)) or self._routes.get(
                (None, request.path)
            )
            if route is not None and not callable(route.handler):
                return route.reply_for(request)
        if route is None:
            return Reply(status=404, body=f"no route for {request.method} {request.path}")
        return route.reply_for(request)  # a function runs outside the lock

    # Recorded requests

    def _record(self, request: Received) -> None:
        with self._lock:
            self._requests.append(request)
            self._lock.notify_all()

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[Received]:
        return [request for request in self.requests if request.path == path]

    def wait_for_requests(
        self, count: int, *, path: str | None = None, timeout: float = 5.0
    ) -> list[Received]:
        """Block until `count` requests (to `path`, if given) have arrived; return them.

        For work done in the background (callbacks). Raises TimeoutError with
        what did arrive.
        """

        def matching() -> list[Received]:
            return [r for r in self._requests if path is None or r.path == path]

        with self._lock:
            if not self._lock.wait_for(lambda: len(matching()) >= count, timeout=timeout):
                seen = [f"{r.method} {r.target}" for r in self._requests]
                raise TimeoutError(f"expected {count} requests to {path or 'any path'}, got {seen}")
            return matching()

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
