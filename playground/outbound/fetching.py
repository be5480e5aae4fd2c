"""Downloading a URL to disk: streamed, capped while reading, its type judged by content."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import httpx
from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, default_storage

from .client import client_for
from .errors import FetchError
from .exchange import Deadline, mapped_errors, open_response
from .guard import Policy, display, parse_url
from .sniff import (
    IMAGE_TYPES,
    SNIFF_BYTES,
    VIDEO_TYPES,
    describe_content,
    extension_for,
    sniff_type,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fetched:
    path: Path
    mime_type: str
    size_bytes: int


@dataclass(frozen=True)
class Stored:
    name: str  # the name the storage saved it under (it may differ from the one asked for)
    mime_type: str
    size_bytes: int


def human_size(size: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


def _declared_length(response: httpx.Response) -> int | None:
    try:
        return int(response.headers["Content-Length"])
    except (KeyError, ValueError):
        return None


def _accepted_type(
    head: bytes, allowed_types: frozenset[str], url: httpx.URL, said: str | None
) -> str:
    mime = sniff_type(head)
    if mime is not None and mime in allowed_types:
        return mime
    server_said = f" (the server called it {said})" if said else ""
    raise FetchError(
        f"{display(url)} is not an accepted file type: its content looks like "
        f"{describe_content(head)}{server_said}; accepted: {', '.join(sorted(allowed_types))}."
    )


def _copy_body(
    response: httpx.Response,
    out: BinaryIO,
    *,
    max_bytes: int,
    allowed_types: frozenset[str],
    timeout: float,
    deadline: Deadline,
) -> tuple[str, int]:
    """Write the body to `out`, checking size and deadline per chunk; return (type, size)."""
    url = response.url
    too_big = f"{display(url)} is larger than the {human_size(max_bytes)} limit."
    head = bytearray()
    mime: str | None = None
    size = 0
    with mapped_errors(url, timeout):
        # Raw bytes: we ask for no content coding, and decoding one anyway
        # would let a few KB of gzip expand past max_bytes inside one chunk.
        for chunk in response.iter_raw():
            size += len(chunk)
            if size > max_bytes:
                raise FetchError(too_big)
            if mime is None:
                # Nothing is written before the type is known to be acceptable.
                head += chunk
                if len(head) >= SNIFF_BYTES:
                    mime = _accepted_type(
                        bytes(head), allowed_types, url, response.headers.get("Content-Type")
                    )
                    out.write(head)
            else:
                out.write(chunk)
            deadline.check(url)
    if mime is None:  # the whole body was shorter than the sniffing window
        mime = _accepted_type(bytes(head), allowed_types, url, response.headers.get("Content-Type"))
        out.write(head)
    return mime, size


def fetch_to_file(
    url: str | httpx.URL,
    dest: Path | str,
    *,
    max_bytes: int,
    allowed_types: frozenset[str],
    timeout: float = 20,
    total_timeout: float | None = None,
    allow_private: bool = False,
    headers: Mapping[str, str] | None = None,
) -> Fetched:
    """GET `url` into the file `dest`, streamed, and return what was fetched.

    - The body goes to a hidden temporary file beside `dest` in chunks and is
      renamed to `dest` only when complete: memory stays flat whatever the
      size, and a failure never leaves a partial file.
    - `max_bytes` is enforced while reading (and up front when Content-Length
      already says too much).
    - The type is sniffed from the first bytes (`sniff_type`); the server's
      Content-Type is ignored. It must be one of `allowed_types`.
    - Redirects are followed, up to 5, each hop checked by the SSRF guard.
    - `timeout` bounds each network phase (connect, each read, each write);
      `total_timeout`, if given, bounds the whole transfer.
    - `headers` (a provider's key, for result URLs that need it) are sent to
      the URL's own origin only: a redirect elsewhere goes without them.

    Raises UnsafeURL for a URL (or a redirect) the guard refuses, FetchError
    for everything else (`.status` set for non-2xx answers).
    """
    parsed = parse_url(url)
    dest = Path(dest)
    client = client_for(Policy.current(allow_private))
    deadline = Deadline(total_timeout)
    sent = httpx.Headers(headers or {})
    sent["Accept-Encoding"] = "identity"
    request = client.build_request("GET", parsed, headers=sent)
    started = time.monotonic()
    response = open_response(
        client,
        request,
        timeout=timeout,
        deadline=deadline,
        follow_redirects=True,
        private_headers=list(headers or ()),
    )
    try:
        final = response.url
        if not response.is_success:
            raise FetchError(
                f"{display(final)} answered {response.status_code} {response.reason_phrase}.",
                status=response.status_code,
            )
        declared = _declared_length(response)
        if declared is not None and declared > max_bytes:
            raise FetchError(
                f"{display(final)} is {human_size(declared)}, "
                f"over the {human_size(max_bytes)} limit."
            )
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, partial = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                mime, size = _copy_body(
                    response,
                    out,
                    max_bytes=max_bytes,
                    allowed_types=allowed_types,
                    timeout=timeout,
                    deadline=deadline,
                )
            os.replace(partial, dest)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
    finally:
        response.close()
    logger.info(
        "fetched %s: %s, %d bytes in %d ms",
        display(parsed),
        mime,
        size,
        (time.monotonic() - started) * 1000,
    )
    return Fetched(path=dest, mime_type=mime, size_bytes=size)


def download_to(
    url: str | httpx.URL,
    storage_name: str,
    *,
    max_bytes: int,
    allowed_types: frozenset[str] = IMAGE_TYPES | VIDEO_TYPES,
    storage: Storage | None = None,
    timeout: float = 20,
    total_timeout: float | None = None,
    allow_private: bool = False,
) -> Stored:
    """Fetch `url` (as `fetch_to_file` does) and save it in a Django storage.

    For upstream results: the file goes to disk first (FILE_UPLOAD_TEMP_DIR,
    or the system's temporary directory), then to the storage in chunks.
    When `storage_name` has no extension, the sniffed type's is added
    ("results/abc" -> "results/abc.mp4").
    """
    storage = storage if storage is not None else default_storage
    temp_root = getattr(settings, "FILE_UPLOAD_TEMP_DIR", None) or None
    with tempfile.TemporaryDirectory(dir=temp_root, prefix="reelgate-download-") as temp_dir:
        fetched = fetch_to_file(
            url,
            Path(temp_dir) / "body",
            max_bytes=max_bytes,
            allowed_types=allowed_types,
            timeout=timeout,
            total_timeout=total_timeout,
            allow_private=allow_private,
        )
        name = storage_name
        if not PurePosixPath(name).suffix:
            name += extension_for(fetched.mime_type)
        with fetched.path.open("rb") as body:
            saved = storage.save(name, File(body, name=PurePosixPath(name).name))
    return Stored(name=saved, mime_type=fetched.mime_type, size_bytes=fetched.size_bytes)
