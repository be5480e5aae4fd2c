"""One request and its redirects, hop by hop, with httpx's errors turned into ours."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import httpx

from .errors import FetchError, UnsafeURL
from .guard import AddressRefused, display, parse_url, refused_message

MAX_REDIRECTS = 5


class Deadline:
    """An overall time budget across hops and body reads; None means no overall budget.

    httpx's timeouts bound each phase (connect, each read, each write); a
    server that drips one byte per second never trips them, so long reads
    also check this between chunks.
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self._end = None if seconds is None else time.monotonic() + seconds

    def remaining(self) -> float | None:
        return None if self._end is None else self._end - time.monotonic()

    def check(self, url: httpx.URL) -> None:
        remaining = self.remaining()
        if remaining is not None and remaining <= 0:
            raise FetchError(f"timed out after {self.seconds:g} s reading {display(url)}.")


def _timeout_reason(exc: httpx.TimeoutException, url: httpx.URL, seconds: float) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        doing = f"connecting to {url.host}"
    elif isinstance(exc, httpx.WriteTimeout):
        doing = f"sending to {display(url)}"
    elif isinstance(exc, httpx.PoolTimeout):
        doing = "waiting for a free connection"
    else:
        doing = f"waiting for {display(url)}"
    return f"timed out after {seconds:g} s {doing}."


@contextmanager
def mapped_errors(
    url: httpx.URL, seconds: float, *, redirected_from: httpx.URL | None = None
) -> Iterator[None]:
    """Turn what httpx and the guard raise into UnsafeURL or FetchError with readable reasons."""
    try:
        yield
    except AddressRefused as exc:
        message = refused_message(url, exc.address, exc.label, redirected_from=redirected_from)
        raise UnsafeURL(message) from None
    except httpx.TimeoutException as exc:
        raise FetchError(_timeout_reason(exc, url, seconds)) from None
    except httpx.ConnectError as exc:
        detail = str(exc) or "connection failed"
        raise FetchError(f"could not connect to {display(url)}: {detail}.") from None
    except httpx.HTTPError as exc:
        detail = str(exc) or type(exc).__name__
        raise FetchError(f"the request to {display(url)} failed: {detail}.") from None
    except UnicodeError:
        # httpx builds the next request of every redirect, followed or not,
        # and reads the Location's host to do it: an "xn--" label that is not
        # valid Punycode raises idna's UnicodeError there. Any other invalid
        # Location is httpx's RemoteProtocolError, a FetchError above.
        raise FetchError(
            f"{display(url)} redirected to a URL whose host name is not a valid "
            "internationalized domain name."
        ) from None


def _hop_timeout(request: httpx.Request, seconds: float, deadline: Deadline) -> float:
    remaining = deadline.remaining()
    if remaining is not None:
        if remaining <= 0:
            raise FetchError(
                f"timed out after {deadline.seconds:g} s reaching {display(request.url)}."
            )
        seconds = min(seconds, remaining)
    request.extensions["timeout"] = httpx.Timeout(seconds).as_dict()
    return seconds


def open_response(
    client: httpx.Client,
    request: httpx.Request,
    *,
    timeout: float,
    deadline: Deadline,
    follow_redirects: bool,
    private_headers: Iterable[str] = (),
) -> httpx.Response:
    """Send `request` and return the streaming response, after following redirects if asked.

    Each hop is a fresh request through the guarded connection layer, so the
    address check applies to every one of them; the shape check (scheme,
    credentials) is repeated here for the redirect targets. The caller closes
    the returned response.

    httpx drops Authorization when a redirect leaves the origin; the headers
    named in `private_headers` (an API key in a header of its own) are
    dropped there too, so a result URL redirecting to a CDN never gets them.
    """
    first = request.url
    hops = 0
    while True:
        seconds = _hop_timeout(request, timeout, deadline)
        with mapped_errors(request.url, seconds, redirected_from=first if hops else None):
            response = client.send(request, stream=True, follow_redirects=False)
        # httpx builds next_request for us: 303 and POST-302 become GET, and
        # Authorization is dropped when the redirect leaves the origin.
        if not follow_redirects or response.next_request is None:
            return response
        response.close()
        hops += 1
        if hops > MAX_REDIRECTS:
            raise FetchError(f"{display(first)} redirected more than {MAX_REDIRECTS} times.")
        request = response.next_request
        if _origin(request.url) != _origin(first):
            for name in private_headers:
                request.headers.pop(name, None)
        try:
            parse_url(request.url)
        except UnsafeURL as exc:
            raise UnsafeURL(
                f"{display(first)} redirected to a URL that is not allowed: {exc}"
            ) from None


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port
