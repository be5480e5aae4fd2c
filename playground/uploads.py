"""Files users upload to use as generation inputs (start images, motion videos).

Every way in — the three upload endpoints of the API, the browser's form —
stores through `store_upload`. A file's type is judged by its content, never
by its name or the Content-Type it came with, and its size limit (which
depends on that type) is enforced while the bytes arrive: `Meter` counts
them, and `LimitedUploadHandler` applies it to multipart requests before
anything reaches storage. An image must also stay within the pixels and
frames it may decode to (`check_image`, playground/imagelimits.py): a small
file may declare a huge picture.

Uploads live in the default storage at `uploads/<random token>/<name>`: the
path is the capability, as with result files. The engine reads them from
storage directly (playground/inputs.py). `services.submit` marks the uploads
a generation uses (`mark_used`); the sweeper deletes the others once they are
UPLOAD_RETENTION_HOURS old (`remove_unused`). The owner's team may delete
one at any time (`delete_upload`, Replicate's DELETE /v1/files/{id}).
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import SuspiciousFileOperation
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.utils import timezone
from django.utils.text import get_valid_filename

from playground import imagelimits
from playground.models import Upload
from playground.outbound import SNIFF_BYTES, extension_for, human_size, sniff_type
from playground.outbound.sniff import describe_content
from playground.storage import delete_files

log = logging.getLogger(__name__)

IMAGE = "image"
VIDEO = "video"
ALL_KINDS = (IMAGE, VIDEO)
KIND_TYPES = {
    IMAGE: ("image/jpeg", "image/png", "image/webp"),
    # The motion-control models take MP4 reference videos.
    VIDEO: ("video/mp4",),
}
TYPE_NAMES = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WebP",
    "video/mp4": "MP4",
}
FOLDER = "uploads"
CHUNK_BYTES = 64 * 1024
MAX_NAME_LENGTH = 80
CLEANUP_CACHE_KEY = "uploads:last-cleanup"
CLEANUP_EVERY_SECONDS = 3600


class UploadRefused(ValueError):
    """The file cannot be taken; the message says why, for the person who sent it."""


def limits(kinds: Iterable[str] = ALL_KINDS) -> dict[str, int]:
    """Accepted MIME type → its size limit in bytes."""
    mb = {IMAGE: settings.UPLOAD_MAX_IMAGE_MB, VIDEO: settings.UPLOAD_MAX_VIDEO_MB}
    return {mime: mb[kind] * 1024 * 1024 for kind in kinds for mime in KIND_TYPES[kind]}


def largest_limit(kinds: Iterable[str] = ALL_KINDS) -> int:
    return max(limits(kinds).values())


def accepted_description(kinds: Iterable[str] = ALL_KINDS) -> str:
    kinds = tuple(kinds)
    parts = []
    if IMAGE in kinds:
        parts.append(f"JPEG, PNG or WebP images up to {settings.UPLOAD_MAX_IMAGE_MB} MB")
    if VIDEO in kinds:
        parts.append(f"MP4 videos up to {settings.UPLOAD_MAX_VIDEO_MB} MB")
    return " and ".join(parts)


def type_of(head: bytes, kinds: Iterable[str] = ALL_KINDS) -> str:
    """The accepted MIME type the first bytes show; UploadRefused for any other content."""
    kinds = tuple(kinds)
    mime = sniff_type(head)
    if mime not in limits(kinds):
        raise UploadRefused(
            f"The file is not an accepted type: its content looks like {describe_content(head)}. "
            f"Accepted: {accepted_description(kinds)}."
        )
    return mime


def judge(head: bytes, size: int, kinds: Iterable[str] = ALL_KINDS) -> str:
    """The MIME type of a whole file from its first bytes and size; UploadRefused when
    it is empty, not an accepted type or over that type's limit."""
    if size == 0:
        raise UploadRefused("The file is empty.")
    mime = type_of(head, kinds)
    limit = limits(kinds)[mime]
    if size > limit:
        raise UploadRefused(_too_big(mime, limit))
    return mime


def check_image(path: Path) -> None:
    """UploadRefused when the image at `path` would decode past
    UPLOAD_MAX_IMAGE_MEGAPIXELS per frame or UPLOAD_MAX_IMAGE_FRAMES frames,
    or its header cannot be read; only the header is read."""
    try:
        imagelimits.check(
            path,
            max_pixels=settings.UPLOAD_MAX_IMAGE_MEGAPIXELS * 1_000_000,
            max_frames=settings.UPLOAD_MAX_IMAGE_FRAMES,
        )
    except ValueError as exc:  # ImageTooLarge is one
        raise UploadRefused(str(exc)) from None


def _too_big(mime: str | None, limit: int) -> str:
    what = f"{TYPE_NAMES[mime]} files" if mime in TYPE_NAMES else "uploads"
    return f"The file is too large: {what} may be at most {human_size(limit)}."


class Meter:
    """Counts an upload's bytes as they arrive and refuses as early as it can.

    Until the first SNIFF_BYTES have come the type is unknown and the largest
    limit of the accepted kinds applies; from then on the type's own limit
    (10 MB for an image, not the 100 MB allowed for a video), and content of
    a type we do not take is refused at once instead of read to its end.
    """

    def __init__(self, kinds: Iterable[str] = ALL_KINDS) -> None:
        self.kinds = tuple(kinds)
        self.limit = largest_limit(self.kinds)
        self.size = 0
        self.head = bytearray()
        self.mime: str | None = None

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.mime is None and len(self.head) < SNIFF_BYTES:
            self.head += chunk[: SNIFF_BYTES - len(self.head)]
            if len(self.head) >= SNIFF_BYTES:
                self.mime = type_of(bytes(self.head), self.kinds)
                self.limit = limits(self.kinds)[self.mime]
        if self.size > self.limit:
            raise UploadRefused(_too_big(self.mime, self.limit))

    def finish(self) -> str:
        """The file's MIME type once every byte has been fed."""
        return judge(bytes(self.head), self.size, self.kinds)


class LimitedUploadHandler(TemporaryFileUploadHandler):
    """A Django upload handler that streams one file field to a temporary file,
    metered: a refused type or a size over the limit stops the upload.

        handler = LimitedUploadHandler(request, field="file")
        request.upload_handlers = [handler]   # before touching request.POST / FILES
        uploaded = request.FILES.get("file")
        if handler.refused: raise ... handler.refused ...

    The rest of the request body is still read (and dropped) after a refusal,
    so the client gets the answer rather than a reset connection; callers
    refuse a declared Content-Length far over the limit before parsing.
    """

    def __init__(self, request=None, *, field: str = "file", kinds: Iterable[str] = ALL_KINDS):
        super().__init__(request)
        self.field = field
        self.kinds = tuple(kinds)
        self.meter: Meter | None = None
        self.skipping = False
        self.refused: UploadRefused | None = None

    def new_file(self, field_name, *args, **kwargs):
        # Only the first file in the field is kept. Other files are dropped
        # here rather than with SkipFile: the parser's SkipFile handling
        # closes (deletes) every handler's file, the finished one included.
        self.skipping = field_name != self.field or self.meter is not None
        if self.skipping:
            return
        super().new_file(field_name, *args, **kwargs)
        self.meter = Meter(self.kinds)

    def receive_data_chunk(self, raw_data, start):
        if self.skipping:
            return None
        try:
            self.meter.feed(raw_data)
        except UploadRefused as exc:
            self.refused = exc
            # The parser closes the temporary file, which deletes it.
            raise StopUpload(connection_reset=False) from None
        self.file.write(raw_data)
        return None

    def file_complete(self, file_size):
        if self.skipping:
            return None
        return super().file_complete(file_size)


def temp_dir() -> str | None:
    return getattr(settings, "FILE_UPLOAD_TEMP_DIR", None) or None


@contextmanager
def spooled(chunks: Iterable[bytes], kinds: Iterable[str] = ALL_KINDS) -> Iterator[Path]:
    """Write `chunks` to a temporary file, metered, and yield its path; removed afterwards."""
    meter = Meter(kinds)
    fd, name = tempfile.mkstemp(dir=temp_dir(), prefix="reelgate-upload-")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                meter.feed(chunk)
                out.write(chunk)
        meter.finish()
        yield path
    finally:
        path.unlink(missing_ok=True)


def _chunks_of(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK_BYTES):
        yield chunk


@contextmanager
def _local_path(source: BinaryIO | str | Path, kinds: tuple[str, ...]) -> Iterator[Path]:
    """The source as a file on local disk: itself when it already is one."""
    if isinstance(source, str | Path):
        yield Path(source)
        return
    # Django's TemporaryUploadedFile (and LimitedUploadHandler's) is on disk already.
    temporary_path = getattr(source, "temporary_file_path", None)
    if temporary_path is not None:
        yield Path(temporary_path())
        return
    if getattr(source, "seekable", lambda: False)():
        source.seek(0)
    with spooled(_chunks_of(source), kinds) as path:
        yield path


def safe_name(original_name: str, mime_type: str) -> str:
    """A file name safe for storage and URLs, ending in the sniffed type's extension."""
    base = PurePosixPath(original_name.replace("\\", "/")).name
    stem = PurePosixPath(base).stem if "." in base.lstrip(".") else base.lstrip(".")
    try:
        stem = get_valid_filename(stem)
    except SuspiciousFileOperation:  # Django refuses names like "." or ".."
        stem = ""
    stem = stem.strip("._-")[: MAX_NAME_LENGTH - 5] or "upload"
    return stem + extension_for(mime_type)


def new_file_id() -> str:
    return secrets.token_urlsafe(18)


def display_name(name: str) -> str:
    """The name a file came with, kept for showing it back: printable characters
    only (the database refuses NUL in text), at most 255 of them."""
    return "".join(ch for ch in name if ch.isprintable()).strip()[:255]


def digests(body: BinaryIO) -> tuple[str, str]:
    """(MD5, SHA-256) hex digests of the whole stream, read in chunks."""
    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    for chunk in _chunks_of(body):
        md5.update(chunk)
        sha256.update(chunk)
    return md5.hexdigest(), sha256.hexdigest()


def store_upload(
    user,
    source: BinaryIO | str | Path,
    *,
    original_name: str = "",
    kinds: Iterable[str] = ALL_KINDS,
    metadata: dict | None = None,
) -> Upload:
    """Check `source` and store it as `user`'s upload.

    `source` is a path on local disk or a binary file-like object (a Django
    UploadedFile, an open file); it is read in chunks, never whole. Raises
    UploadRefused when it is empty, not an accepted type (judged by content)
    or over that type's size limit; nothing is stored then. `metadata` is
    kept with the upload as given (a JSON object the caller has checked).
    An image past its pixel or frame limits is refused too (`check_image`).
    """
    kinds = tuple(kinds)
    if not original_name and not isinstance(source, str | Path):
        original_name = PurePosixPath(str(getattr(source, "name", "") or "")).name
    original_name = display_name(original_name or "")
    with _local_path(source, kinds) as path:
        size = path.stat().st_size
        with path.open("rb") as body:
            head = body.read(SNIFF_BYTES)
            mime = judge(head, size, kinds)
            if mime in KIND_TYPES[IMAGE]:
                check_image(path)
            body.seek(0)
            md5, sha256 = digests(body)
            file_id = new_file_id()
            name = f"{FOLDER}/{file_id}/{safe_name(original_name, mime)}"
            body.seek(0)
            stored = default_storage.save(name, File(body, name=PurePosixPath(name).name))
    try:
        return Upload.objects.create(
            file_id=file_id,
            owner=user,
            team_id=user.profile.team_id,
            storage_name=stored,
            original_name=original_name,
            mime_type=mime,
            size_bytes=size,
            md5=md5,
            sha256=sha256,
            metadata=metadata or {},
        )
    except BaseException:
        default_storage.delete(stored)
        raise


def upload_name(url: str) -> str | None:
    """The storage name of an upload a URL points at, whatever its host, or None.

    Whatever comes before `uploads/<file id>/<name>` in the path: the media
    URL on the filesystem storage, the bucket and AWS_LOCATION on object
    storage (whose signed URLs carry their signature in the query), a CDN's
    own path. A URL naming one of our uploads another way still keeps that
    upload alive, which errs the safe way; a name that is no upload's marks
    nothing.
    """
    if not isinstance(url, str):
        return None
    try:
        path = urlsplit(url).path
    except ValueError:
        return None
    parts = unquote(path).split("/")
    if len(parts) < 3 or parts[-3] != FOLDER:
        return None
    file_id, name = parts[-2], parts[-1]
    if {file_id, name} & {"", ".", ".."}:
        return None
    return f"{FOLDER}/{file_id}/{name}"


def _urls_in(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _urls_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _urls_in(item)


def mark_used(normalized_input: dict) -> int:
    """Mark the uploads a generation's input refers to as used, so they are kept.

    Called inside submit's transaction: a concurrent `remove_unused` either
    deletes the row first (the generation then fails on a missing input) or
    finds it used; it never deletes a file a committed generation counts on.
    """
    names = {name for url in _urls_in(normalized_input) if (name := upload_name(url))}
    if not names:
        return 0
    return Upload.objects.filter(storage_name__in=names, used_at__isnull=True).update(
        used_at=timezone.now()
    )


def remove_unused(older_than: timedelta | None = None) -> int:
    """Delete uploads no generation used once they are `older_than` old; return how many."""
    if older_than is None:
        older_than = timedelta(hours=settings.UPLOAD_RETENTION_HOURS)
    cutoff = timezone.now() - older_than
    stale = Upload.objects.filter(used_at__isnull=True, created_at__lt=cutoff).values_list(
        "pk", "storage_name"
    )[:500]
    removed = 0
    for pk, storage_name in stale:
        # The row goes first, and only if still unused: a submit marking it
        # used meanwhile wins, and its file stays.
        deleted, _ = Upload.objects.filter(pk=pk, used_at__isnull=True).delete()
        if not deleted:
            continue
        removed += 1
        delete_files(storage_name)
    return removed


def delete_upload(upload: Upload) -> bool:
    """Delete an upload now, whether or not a generation has used it; False if it
    was gone already (another delete, or the sweeper, got there first).

    The row goes first, as in `remove_unused`: whoever deletes it removes the
    file. A generation that has not started yet and uses the file then fails
    on its missing input; a finished one keeps its result.
    """
    deleted, _ = Upload.objects.filter(pk=upload.pk).delete()
    if not deleted:
        return False
    delete_files(upload.storage_name)
    return True


def remove_unused_hourly() -> int:
    """`remove_unused`, at most once an hour per cache (the sweeper calls this every sweep)."""
    if not cache.add(CLEANUP_CACHE_KEY, timezone.now().isoformat(), CLEANUP_EVERY_SECONDS):
        return 0
    return remove_unused()
