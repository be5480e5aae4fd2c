"""playground.outbound: the SSRF guard, check_url, fetch_to_file, download_to, send, sniff_type.

The guard refuses loopback, private and other special addresses in any
spelling, and URLs that are not plain http(s), before a connection is made
and on every hop of a redirect, unless a setting or the call allows them.
fetch_to_file and download_to judge a file's type by its content, stop at
the size limit and the deadline, follow at most five redirects and send a
key only to its own origin. send hands back any answer with its body capped,
follows redirects only when asked, drops Authorization off the origin and
keeps keys and query strings out of the log. The pooled client never lends
a connection to a stricter call and works in a forked worker. (Polls over
HTTP/2: tests/test_outbound_http2.py.)

Requests go to real HTTP servers on 127.0.0.1 and 127.0.0.2
(tests/httpservers.py), and a bare listening socket shows when no connection
was even attempted; httpx is never patched. The one stand-in is the
`resolver` fixture: it gives a few made-up names (`*.test`) the addresses a
test needs, because what a name like `localhost` resolves to differs from
machine to machine. Every other name goes to the system resolver.
"""

from __future__ import annotations

import io
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from ipaddress import ip_address
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage
from PIL import Image

from playground import outbound
from playground.outbound import FetchError, UnsafeURL
from playground.outbound.guard import Policy, refusal_among
from tests.httpservers import LoopbackServer, Reply
from tests.processes import wait_for


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 40, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


PNG = _png()
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64)
MP4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + bytes(64)
HTML = b"<!DOCTYPE html>\n<html><head><title>Login</title></head><body>Sign in</body></html>"


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as running:
        yield running


@pytest.fixture
def allow_loopback(settings):
    settings.ALLOW_PRIVATE_URLS = True


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A bare listening socket on 127.0.0.1, to prove no connection was even attempted."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


def _was_connected(sock: socket.socket) -> bool:
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


def _fetch(url: str, dest: Path, **kwargs) -> outbound.Fetched:
    kwargs.setdefault("max_bytes", 1 << 20)
    kwargs.setdefault("allowed_types", outbound.IMAGE_TYPES)
    return outbound.fetch_to_file(url, dest, **kwargs)


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# The guard


def test_it_refuses_loopback_by_default(server, tmp_path):
    server.route("/a.png", body=PNG)

    with pytest.raises(UnsafeURL, match=r"loopback address \(127\.0\.0\.1\)"):
        _fetch(server.url_for("/a.png"), tmp_path / "a.png")
    with pytest.raises(UnsafeURL, match="not allowed"):
        outbound.send("POST", server.url_for("/a.png"), json={})

    assert server.requests == []
    assert _leftovers(tmp_path) == []


def test_it_allows_loopback_with_the_setting(server, tmp_path, settings):
    settings.ALLOW_PRIVATE_URLS = True
    server.route("/a.png", body=PNG)

    fetched = _fetch(server.url_for("/a.png"), tmp_path / "a.png")

    assert fetched.mime_type == "image/png"
    assert (tmp_path / "a.png").read_bytes() == PNG


def test_it_allows_private_per_call(server):
    server.route("/api", Reply.json({"ok": True}))

    answer = outbound.send("GET", server.url_for("/api"), allow_private=True)

    assert answer.status == 200
    assert answer.json() == {"ok": True}


def test_it_does_not_lend_a_pooled_connection_to_a_stricter_call(server, tmp_path):
    server.route("/a.png", body=PNG)
    _fetch(server.url_for("/a.png"), tmp_path / "a.png", allow_private=True)

    # A keep-alive connection to this very origin now sits in a pool; a call
    # without the permission must not get it.
    with pytest.raises(UnsafeURL):
        _fetch(server.url_for("/a.png"), tmp_path / "b.png")
    assert len(server.requests) == 1


def test_it_allows_listed_networks_but_not_a_redirect_outside_them(server, tmp_path, settings):
    settings.ALLOWED_PRIVATE_NETWORKS = ["127.0.0.1/32"]
    with LoopbackServer(host="127.0.0.2") as other:
        other.route("/a.png", body=PNG)
        server.route("/a.png", body=PNG)
        server.route("/elsewhere", Reply.redirect(other.url_for("/a.png")))

        assert _fetch(server.url_for("/a.png"), tmp_path / "a.png").size_bytes == len(PNG)
        with pytest.raises(UnsafeURL) as refused:
            _fetch(server.url_for("/elsewhere"), tmp_path / "b.png")

        assert other.requests == []
    assert "redirected to http://127.0.0.2:" in str(refused.value)
    assert "loopback address (127.0.0.2)" in str(refused.value)
    assert _leftovers(tmp_path) == ["a.png"]


@pytest.mark.parametrize(
    ("target", "address"),
    [
        ("http://[::1]:{port}/a.png", "::1"),
        ("http://[::ffff:127.0.0.2]:{port}/a.png", "::ffff:127.0.0.2"),
        ("http://2130706434:{port}/a.png", "127.0.0.2"),  # 127.0.0.2 as one number
    ],
)
def test_it_refuses_redirects_to_other_loopback_forms(server, tmp_path, settings, target, address):
    settings.ALLOWED_PRIVATE_NETWORKS = ["127.0.0.1/32"]
    server.route("/go", Reply.redirect(target.format(port=server.port)))

    with pytest.raises(UnsafeURL, match=rf"loopback address \({address}\)"):
        _fetch(server.url_for("/go"), tmp_path / "a.png")
    assert _leftovers(tmp_path) == []


def test_it_allows_other_spellings_of_a_listed_address(server, tmp_path, settings):
    settings.ALLOWED_PRIVATE_NETWORKS = ["127.0.0.1/32"]
    server.route("/a.png", body=PNG)
    server.route("/go", Reply.redirect(f"http://127.1:{server.port}/a.png"))

    assert _fetch(server.url_for("/go"), tmp_path / "a.png").mime_type == "image/png"


@pytest.fixture
def resolver(monkeypatch):
    """Names of our own for the resolver: {name: [addresses]}; others resolve as usual.

    The guard must judge every address a name has, and what `localhost`
    resolves to differs from machine to machine.
    """
    names: dict[str, list[str]] = {}
    system = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in names:
            return system(host, port, *args, **kwargs)
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (address, int(port), 0, 0) if ":" in address else (address, int(port)),
            )
            for address in names[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


def test_it_refuses_a_host_when_any_of_its_addresses_is_refused(
    server, tmp_path, settings, resolver
):
    resolver["dual-stack.test"] = ["127.0.0.1", "::1"]
    settings.ALLOWED_PRIVATE_NETWORKS = ["127.0.0.1/32"]
    server.route("/go", Reply.redirect(f"http://dual-stack.test:{server.port}/a.png"))
    server.route("/a.png", body=PNG)

    with pytest.raises(UnsafeURL, match="::1"):
        _fetch(server.url_for("/go"), tmp_path / "a.png")
    assert server.requests_to("/a.png") == []


def test_it_judges_every_address_of_a_host(settings):
    settings.ALLOWED_PRIVATE_NETWORKS = ["127.0.0.1/32"]
    policy = Policy.current()
    loopbacks = [ip_address("127.0.0.1"), ip_address("::1")]

    assert refusal_among(loopbacks, policy) == (ip_address("::1"), "loopback")
    assert refusal_among(loopbacks[:1], policy) is None
    assert refusal_among([ip_address("93.184.215.14"), ip_address("10.0.0.1")], policy) == (
        ip_address("10.0.0.1"),
        "private",
    )


def test_it_allows_a_listed_host_name(server, tmp_path, settings, resolver):
    resolver["gateway.test"] = ["127.0.0.1"]
    settings.ALLOWED_PRIVATE_NETWORKS = ["127.0.0.1/32"]
    server.route("/a.png", body=PNG)

    fetched = _fetch(f"http://gateway.test:{server.port}/a.png", tmp_path / "a.png")

    assert fetched.size_bytes == len(PNG)
    assert len(server.requests_to("/a.png")) == 1


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "0.0.0.0",  # reaches the local host on Linux
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[::127.0.0.1]",
        "2130706433",  # 127.0.0.1 as one number
        "0x7f.1",
    ],
)
def test_it_refuses_local_addresses_without_connecting(listener, host):
    url = f"http://{host}:{listener.getsockname()[1]}/x"

    with pytest.raises(UnsafeURL, match="fetching it is not allowed"):
        outbound.send("GET", url)
    with pytest.raises(UnsafeURL):
        outbound.check_url(url)

    assert not _was_connected(listener)


@pytest.mark.parametrize(
    ("url", "label"),
    [
        ("http://10.0.0.1/x", "private address (10.0.0.1)"),
        ("http://192.168.1.20/", "private"),
        ("http://172.16.0.1/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local address (169.254.169.254)"),
        ("http://[::1]/", "loopback address (::1)"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("http://100.64.0.1/", "carrier-grade NAT"),
        ("http://224.0.0.1/", "multicast"),
        ("http://[ff02::1]/", "multicast"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[fc00::1]/", "private"),
        ("http://[fec0::1]/", "site-local"),
        ("http://[64:ff9b::a00:1]/", "private"),  # NAT64 form of 10.0.0.1
        ("http://[2002:a00:1::]/", "private"),  # 6to4 form of 10.0.0.1
        ("http://240.0.0.1/", "reserved"),
        ("http://255.255.255.255/", "reserved"),
        ("https://198.18.0.1/", "private"),
    ],
)
def test_it_refuses_literal_private_addresses_quickly(url, label):
    started = time.monotonic()

    with pytest.raises(UnsafeURL, match=label.replace("(", r"\(").replace(")", r"\)")):
        outbound.send("POST", url, json={"a": 1}, timeout=5)
    with pytest.raises(UnsafeURL, match="not allowed"):
        outbound.check_url(url)

    # A connection attempt to these would hang until the timeout or fail
    # differently; refusal comes before any socket is opened.
    assert time.monotonic() - started < 1


def test_it_reads_its_message_like_a_sentence():
    with pytest.raises(UnsafeURL) as refused:
        outbound.check_url("http://10.0.0.5/x?token=secret")

    assert str(refused.value) == (
        "http://10.0.0.5/x resolves to a private address (10.0.0.5); fetching it is not allowed."
    )


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/a.png",
        "file:///etc/passwd",
        "gopher://example.com/",
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "//example.com/a.png",
        "example.com/a.png",
        "http:///a.png",
    ],
)
def test_it_refuses_urls_that_are_not_http(url, tmp_path, settings):
    settings.ALLOW_PRIVATE_URLS = True  # the shape check holds even then

    with pytest.raises(UnsafeURL):
        outbound.check_url(url)
    with pytest.raises(UnsafeURL):
        _fetch(url, tmp_path / "a.png")


@pytest.mark.parametrize(
    "url",
    [
        "http://xn--localhost/cb",  # decodes to a code point IDNA does not allow
        "https://xn--a.example.com/a.png",
        "http://xn--/cb",  # no Punycode after the prefix
        "http://xn--zz-.com/cb",  # an A-label may not end with a hyphen
        "http://XN--LOCALHOST:8080/cb",
    ],
)
@pytest.mark.parametrize("allow_private", [False, True], ids=["guarded", "private-allowed"])
def test_it_refuses_a_host_that_is_not_valid_punycode(url, allow_private, tmp_path, settings):
    settings.ALLOW_PRIVATE_URLS = allow_private  # unparsable whatever the policy
    reason = "is not a valid internationalized domain name"

    with pytest.raises(UnsafeURL, match=reason):
        outbound.check_url(url)
    with pytest.raises(UnsafeURL, match=reason):
        _fetch(url, tmp_path / "a.png")
    with pytest.raises(UnsafeURL, match=reason):
        outbound.send("POST", url, json={})


def test_it_reports_a_redirect_to_a_host_that_is_not_valid_punycode(
    server, tmp_path, allow_loopback
):
    server.route("/go", Reply.redirect("http://xn--localhost/a.png"))
    reason = "redirected to a URL whose host name is not a valid internationalized domain name"

    with pytest.raises(FetchError, match=reason):
        _fetch(server.url_for("/go"), tmp_path / "a.png")
    # httpx reads the Location's host even for a redirect it does not follow.
    with pytest.raises(FetchError, match=reason):
        outbound.send("POST", server.url_for("/go"), json={})
    assert _leftovers(tmp_path) == []


def test_it_refuses_credentials_in_urls_without_repeating_them(settings):
    settings.ALLOW_PRIVATE_URLS = True

    with pytest.raises(UnsafeURL, match="user name or password") as refused:
        outbound.send("POST", "http://user:hunter2@example.com/hook", json={})

    assert "hunter2" not in str(refused.value)


def test_it_refuses_a_redirect_to_another_scheme(server, tmp_path, allow_loopback):
    server.route("/go", Reply.redirect("file:///etc/passwd"))

    with pytest.raises(UnsafeURL, match="only http and https"):
        _fetch(server.url_for("/go"), tmp_path / "a.png")


def test_it_rejects_a_malformed_network_setting(settings):
    settings.ALLOWED_PRIVATE_NETWORKS = ["127.0.0.5/8"]

    with pytest.raises(ImproperlyConfigured, match="127.0.0.5/8"):
        outbound.check_url("http://127.0.0.1/")


# check_url


def test_check_url_accepts_a_public_address():
    assert outbound.check_url("https://93.184.215.14/image.png") is None
    assert outbound.check_url("http://[2606:4700::1111]/") is None


def test_check_url_refuses_hosts_that_do_not_resolve():
    with pytest.raises(UnsafeURL, match="could not resolve host"):
        outbound.check_url("https://no-such-host.invalid/hook")


def test_check_url_refuses_a_name_for_loopback():
    with pytest.raises(UnsafeURL, match="loopback"):
        outbound.check_url("http://localhost:8000/hook")


def test_check_url_follows_the_settings_and_the_call(settings):
    outbound.check_url("http://127.0.0.1/hook", allow_private=True)

    settings.ALLOWED_PRIVATE_NETWORKS = ["10.1.0.0/16"]
    outbound.check_url("http://10.1.2.3/hook")
    with pytest.raises(UnsafeURL):
        outbound.check_url("http://10.2.0.1/hook")

    settings.ALLOW_PRIVATE_URLS = True
    outbound.check_url("http://10.2.0.1/hook")
    # Only the shape is checked when everything is allowed: no lookup to fail.
    outbound.check_url("http://no-such-host.invalid/hook")


# fetch_to_file


def test_it_sniffs_the_type_and_ignores_the_content_type(server, tmp_path, allow_loopback):
    server.route("/a", body=PNG, headers={"Content-Type": "text/plain"})

    fetched = _fetch(server.url_for("/a"), tmp_path / "in" / "a.bin")

    assert fetched == outbound.Fetched(tmp_path / "in" / "a.bin", "image/png", len(PNG))
    assert fetched.path.read_bytes() == PNG
    assert _leftovers(tmp_path / "in") == ["a.bin"]


def test_it_refuses_an_html_page_served_as_an_image(server, tmp_path, allow_loopback):
    server.route("/a.jpg", body=HTML, headers={"Content-Type": "image/jpeg"})

    with pytest.raises(FetchError) as failed:
        _fetch(server.url_for("/a.jpg"), tmp_path / "a.jpg")

    assert failed.value.reason == (
        f"{server.url}/a.jpg is not an accepted file type: its content looks like an HTML "
        "page (the server called it image/jpeg); accepted: image/jpeg, image/png, image/webp."
    )
    assert failed.value.status is None
    assert _leftovers(tmp_path) == []


def test_it_refuses_a_video_where_images_are_expected(server, tmp_path, allow_loopback):
    server.route("/clip", body=MP4)

    with pytest.raises(FetchError, match="looks like video/mp4"):
        _fetch(server.url_for("/clip"), tmp_path / "clip")

    fetched = _fetch(server.url_for("/clip"), tmp_path / "clip", allowed_types=outbound.VIDEO_TYPES)
    assert fetched.mime_type == "video/mp4"


def test_it_stops_reading_at_the_size_limit(server, tmp_path, allow_loopback):
    sent = []
    stopped = threading.Event()

    def chunks():
        try:
            yield PNG  # a valid start, so only the size can stop it
            for _ in range(2000):  # 128 MB if nobody stops it
                sent.append(1)
                yield bytes(65536)
        finally:
            stopped.set()  # cut off, or at the end had the client read on

    server.route("/big.png", Reply.stream(chunks))

    with pytest.raises(FetchError, match="larger than the 1 MB limit") as failed:
        _fetch(server.url_for("/big.png"), tmp_path / "big.png", max_bytes=1 << 20)

    assert failed.value.status is None
    assert _leftovers(tmp_path) == []
    assert "content-length" not in server.requests[0].headers  # it was chunked
    # The server is cut off long before the end (socket buffers hold a few MB).
    wait_for(stopped.is_set, timeout=10, message="the server to stop sending")
    assert len(sent) < 500


def test_it_refuses_early_when_the_declared_length_is_too_big(server, tmp_path, allow_loopback):
    # The server claims 5 GB and sends a few bytes: only a client that trusts
    # the declaration before reading gets the size in its message.
    server.route("/huge.png", body=PNG, content_length=5 << 30)

    with pytest.raises(FetchError, match="is 5 GB, over the 1 MB limit"):
        _fetch(server.url_for("/huge.png"), tmp_path / "huge.png", max_bytes=1 << 20)
    assert _leftovers(tmp_path) == []


def test_it_accepts_a_file_of_exactly_the_limit(server, tmp_path, allow_loopback):
    server.route("/a.png", Reply.stream([PNG[:10], PNG[10:]]))

    fetched = _fetch(server.url_for("/a.png"), tmp_path / "a.png", max_bytes=len(PNG))

    assert fetched.size_bytes == len(PNG)
    assert fetched.path.read_bytes() == PNG


@pytest.mark.parametrize("status", [404, 403, 500, 503])
def test_it_reports_the_status_of_an_error_answer(server, tmp_path, allow_loopback, status):
    server.route("/a.png", status=status, body=PNG)

    with pytest.raises(FetchError) as failed:
        _fetch(server.url_for("/a.png"), tmp_path / "a.png")

    assert failed.value.status == status
    assert f"answered {status}" in failed.value.reason
    assert _leftovers(tmp_path) == []


def test_it_times_out_on_a_slow_server(server, tmp_path, allow_loopback):
    server.route("/slow.png", body=PNG, delay=5)
    started = time.monotonic()

    with pytest.raises(FetchError, match="^timed out after 0.3 s") as failed:
        _fetch(server.url_for("/slow.png"), tmp_path / "slow.png", timeout=0.3)

    assert time.monotonic() - started < 1.5
    assert failed.value.status is None


def test_it_times_out_on_a_server_that_drips(server, tmp_path, allow_loopback):
    drip = [PNG] + [b"x"] * 100
    server.route("/drip.png", Reply.stream(drip, chunk_delay=0.1))
    started = time.monotonic()

    with pytest.raises(FetchError, match="^timed out after 0.5 s"):
        _fetch(server.url_for("/drip.png"), tmp_path / "d.png", timeout=1, total_timeout=0.5)

    assert time.monotonic() - started < 1.5
    assert _leftovers(tmp_path) == []


def test_it_follows_redirects_up_to_the_cap(server, tmp_path, allow_loopback):
    server.route("/a.png", body=PNG)
    for hop in range(1, 7):
        server.route(f"/r{hop}", Reply.redirect(f"/r{hop + 1}" if hop < 6 else "/a.png"))

    assert _fetch(server.url_for("/r2"), tmp_path / "ok.png").mime_type == "image/png"
    with pytest.raises(FetchError, match="redirected more than 5 times"):
        _fetch(server.url_for("/r1"), tmp_path / "too-many.png")


def test_it_reports_a_refused_connection(tmp_path, allow_loopback, listener):
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now

    with pytest.raises(FetchError, match="could not connect"):
        _fetch(f"http://127.0.0.1:{port}/a.png", tmp_path / "a.png")


def test_it_downloads_into_a_storage(server, tmp_path, allow_loopback):
    server.route("/result", body=MP4, headers={"Content-Type": "application/octet-stream"})
    storage = FileSystemStorage(location=tmp_path / "media")

    stored = outbound.download_to(
        server.url_for("/result"), "results/abc", storage=storage, max_bytes=1 << 20
    )

    assert stored == outbound.Stored("results/abc.mp4", "video/mp4", len(MP4))
    assert (tmp_path / "media" / "results" / "abc.mp4").read_bytes() == MP4


def test_a_download_sends_its_key_headers_to_their_own_origin_only(
    server, tmp_path, allow_loopback
):
    with LoopbackServer() as cdn:
        cdn.route("/signed/a.png", body=PNG)
        server.route("/files/a:download", Reply.redirect(cdn.url_for("/signed/a.png")))
        key = {"x-goog-api-key": "AIza-upstream-secret", "Authorization": "Bearer tok-secret"}

        outbound.fetch_to_file(
            server.url_for("/files/a:download"),
            tmp_path / "a.png",
            max_bytes=1 << 20,
            allowed_types=outbound.IMAGE_TYPES,
            headers=key,
        )

        (asked,) = server.requests
        assert asked.header("x-goog-api-key") == "AIza-upstream-secret"
        assert asked.header("authorization") == "Bearer tok-secret"
        (redirected,) = cdn.requests
        assert redirected.header("x-goog-api-key") is None
        assert redirected.header("authorization") is None
    assert (tmp_path / "a.png").read_bytes() == PNG


# send


def test_send_returns_success_and_failure_alike(server, allow_loopback):
    server.route("/ok", Reply.json({"code": 200}), method="POST")
    server.route("/fail", status=500, body="upstream exploded")

    ok = outbound.send("POST", server.url_for("/ok"), json={"taskId": "t1"})
    failed = outbound.send("POST", server.url_for("/fail"), json={"taskId": "t1"})

    assert (ok.status, ok.ok, ok.json()) == (200, True, {"code": 200})
    assert (failed.status, failed.ok, failed.text) == (500, False, "upstream exploded")
    assert failed.headers["content-type"] == "text/plain; charset=utf-8"
    assert ok.elapsed_ms >= 0 and failed.elapsed_ms >= 0
    received = server.requests_to("/ok")[0]
    assert received.json() == {"taskId": "t1"}
    assert received.header("User-Agent") == outbound.USER_AGENT
    assert outbound.USER_AGENT.startswith("Reelgate/")


def test_send_measures_elapsed_time(server, allow_loopback):
    server.route("/slowish", body="ok", delay=0.2)

    answer = outbound.send("GET", server.url_for("/slowish"))

    assert 200 <= answer.elapsed_ms < 2000


def test_send_caps_the_body(server, allow_loopback):
    server.route("/big", body=b"a" * 200_000)
    server.route("/streamed", Reply.stream(lambda: (b"b" * 65536 for _ in range(1000))))

    answer = outbound.send("GET", server.url_for("/big"), max_response_bytes=1024)
    streamed = outbound.send("GET", server.url_for("/streamed"))

    assert (answer.body, answer.truncated) == (b"a" * 1024, True)
    assert len(streamed.body) == outbound.DEFAULT_MAX_RESPONSE_BYTES and streamed.truncated


def test_send_sends_exact_bytes_and_headers(server, allow_loopback):
    server.route("/hook", status=204)
    body = b'{"b":2,"a":1}'

    outbound.send(
        "post",
        server.url_for("/hook"),
        content=body,
        headers={"Content-Type": "application/json", "X-Signature": "abc"},
        params={"attempt": 2},
    )

    (received,) = server.requests
    assert (received.method, received.body, received.query) == ("POST", body, {"attempt": ["2"]})
    assert received.header("x-signature") == "abc"
    assert received.header("accept-encoding") == "identity"


def test_send_does_not_follow_redirects_unless_asked(server, allow_loopback):
    server.route("/hook", Reply.redirect("/moved", status=307))
    server.route("/moved", Reply.json({"moved": True}))

    answer = outbound.send("POST", server.url_for("/hook"), json={})
    followed = outbound.send("POST", server.url_for("/hook"), json={}, follow_redirects=True)

    assert (answer.status, answer.headers["location"]) == (307, "/moved")
    assert (followed.status, followed.json(), followed.url) == (
        200,
        {"moved": True},
        server.url_for("/moved"),
    )
    assert [r.path for r in server.requests] == ["/hook", "/hook", "/moved"]


def test_send_checks_every_hop_it_follows(server, settings):
    settings.ALLOWED_PRIVATE_NETWORKS = ["127.0.0.1/32"]
    with LoopbackServer(host="127.0.0.2") as other:
        server.route("/hook", Reply.redirect(other.url_for("/internal"), status=307))

        assert outbound.send("POST", server.url_for("/hook"), json={}).status == 307
        with pytest.raises(UnsafeURL, match="127.0.0.2"):
            outbound.send("POST", server.url_for("/hook"), json={}, follow_redirects=True)

        assert other.requests == []


def test_send_drops_authorization_when_a_redirect_leaves_the_origin(server, allow_loopback):
    with LoopbackServer() as other:
        other.route("/v1/tasks", Reply.json({"id": "x"}))
        server.route("/v1/tasks", Reply.redirect(other.url_for("/v1/tasks")))

        answer = outbound.send(
            "GET",
            server.url_for("/v1/tasks"),
            headers={"Authorization": "Bearer upstream-secret"},
            follow_redirects=True,
        )

        assert answer.status == 200
        assert server.requests[0].header("authorization") == "Bearer upstream-secret"
        assert other.requests[0].header("authorization") is None


def test_send_times_out(server, allow_loopback):
    server.route("/hook", status=200, delay=5)
    started = time.monotonic()

    with pytest.raises(FetchError, match="^timed out after 0.2 s waiting for"):
        outbound.send("POST", server.url_for("/hook"), json={}, timeout=0.2)

    assert time.monotonic() - started < 1.5


def test_send_reports_a_dropped_connection(server, allow_loopback):
    server.route("/hook", abort=True)

    with pytest.raises(FetchError, match="failed") as failed:
        outbound.send("POST", server.url_for("/hook"), json={})

    assert failed.value.status is None


def test_send_never_logs_the_authorization_header(server, allow_loopback, caplog):
    server.route("/api", status=401)

    with caplog.at_level(logging.DEBUG):
        outbound.send(
            "GET",
            server.url_for("/api?key=query-secret"),
            headers={"Authorization": "Bearer header-secret"},
        )

    assert "/api" in caplog.text  # the request was logged...
    assert "header-secret" not in caplog.text  # ...but not the key,
    assert "query-secret" not in caplog.text  # nor the query string, which may hold tokens


def test_it_works_in_a_forked_worker(server, allow_loopback):
    server.route("/ping", body="pong")
    assert outbound.send("GET", server.url_for("/ping")).status == 200  # the parent's pool is warm

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a django-q2 worker, say
        code = 1
        try:
            answer = outbound.send("GET", server.url_for("/ping"))
            os.write(write_end, answer.body)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    assert os.read(read_end, 100) == b"pong"
    assert os.waitstatus_to_exitcode(status) == 0
    os.close(read_end)
    # The parent's pooled connection still works after the child used its own.
    assert outbound.send("GET", server.url_for("/ping")).text == "pong"


# sniff_type


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"GIF89a\x01\x00", "image/gif"),
        (MP4, "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", "video/quicktime"),
        (b"\x00\x00\x00\x08wide\x00\x00\x00\x00mdat", "video/quicktime"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", "image/avif"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image/heic"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "video/webm"),
        (HTML, None),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
        (b"abcdfree and some text", None),
        (b"\xff\xd8", None),
        (b"", None),
    ],
)
def test_sniff_type_names_each_format_by_its_first_bytes_and_nothing_else(head, expected):
    assert outbound.sniff_type(head) == expected
