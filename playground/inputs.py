"""Bringing a generation's image and video inputs onto local disk for rendering.

Files on our own media storage (uploads, earlier results) are read directly;
anything else is fetched behind the SSRF guard with type and size limits.
Images must also stay within the uploads' pixel and frame limits, checked
from their headers before the renderer decodes them.
"""

import shutil
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.files.storage import default_storage

from playground import uploads
from playground.outbound import FetchError, UnsafeURL, fetch_to_file, sniff_type

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime"})


class InputError(Exception):
    """An input URL could not be used; the message says why, for the user."""


def own_media_name(url: str) -> str | None:
    """The storage name when `url` points at our own media files, else None."""
    parts = urlsplit(url)
    media_path = "/" + settings.MEDIA_URL.strip("/") + "/"
    if not parts.path.startswith(media_path):
        return None
    public_host = urlsplit(settings.PUBLIC_BASE_URL).hostname if settings.PUBLIC_BASE_URL else None
    our_hosts = {public_host, *settings.ALLOWED_HOSTS} - {None}
    if parts.hostname not in our_hosts and "*" not in our_hosts:
        return None
    name = unquote(parts.path[len(media_path) :])
    if not name or ".." in Path(name).parts:
        return None
    return name


def localize(url: str, dest: Path, *, kind: str) -> Path:
    """Copy the input at `url` to `dest`; `kind` is "image" or "video"."""
    # The same limits as uploads, so whatever could be uploaded can be used.
    if kind == "image":
        allowed, limit = IMAGE_TYPES, settings.UPLOAD_MAX_IMAGE_MB * 1024 * 1024
    else:
        allowed, limit = VIDEO_TYPES, settings.UPLOAD_MAX_VIDEO_MB * 1024 * 1024
    name = own_media_name(url)
    if name is not None:
        path = _copy_from_storage(name, dest, allowed, limit, url)
    else:
        try:
            path = fetch_to_file(url, dest, max_bytes=limit, allowed_types=allowed).path
        except (FetchError, UnsafeURL) as exc:
            raise InputError(f"Cannot use {kind} URL {url}: {exc}") from None
    if kind == "image":
        try:
            uploads.check_image(path)
        except uploads.UploadRefused as exc:
            raise InputError(f"Cannot use image URL {url}: {exc}") from None
    return path


def _copy_from_storage(name: str, dest: Path, allowed, limit: int, url: str) -> Path:
    if not default_storage.exists(name):
        raise InputError(f"Cannot use {url}: no such file on this server.")
    if default_storage.size(name) > limit:
        raise InputError(f"Cannot use {url}: larger than {limit // (1024 * 1024)} MB.")
    with default_storage.open(name, "rb") as source, open(dest, "wb") as target:
        head = source.read(64)
        if sniff_type(head) not in allowed:
            raise InputError(f"Cannot use {url}: not a {' or '.join(sorted(allowed))} file.")
        target.write(head)
        shutil.copyfileobj(source, target)
    return dest
