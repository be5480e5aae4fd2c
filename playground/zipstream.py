"""A ZIP archive produced as it is sent, for downloads of several large files.

The standard library's zipfile writes to any object with write(). On one
that cannot tell or seek it puts each member's CRC and sizes in a data
descriptor after the member's bytes instead of going back to its header
(the ZIP format's bit 3, APPNOTE 4.3.9), so the archive leaves in chunks
and memory holds one chunk at a time, however many files it carries.
Members are stored, not deflated: videos are compressed already.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

# Members at least this large (or of unknown size) get ZIP64 records from
# the start: zipfile cannot switch once a member's header has gone out.
_ZIP64_FROM = 1 << 30


@dataclass
class Member:
    name: str
    chunks: Iterable[bytes]
    modified: datetime
    size: int | None = None  # when known: whether the member needs ZIP64


class _Outbox(io.RawIOBase):
    """Where zipfile writes; what it wrote is taken away chunk by chunk.

    It cannot seek or tell (RawIOBase's defaults raise), which is what makes
    zipfile write data descriptors rather than seek back.
    """

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def stream(members: Iterable[Member]) -> Iterator[bytes]:
    """The bytes of a ZIP archive of `members`, in chunks, as each member is read.

    `members` is consumed lazily, so a member can be opened only when its
    turn comes (and left out if it cannot be).
    """
    outbox = _Outbox()
    with zipfile.ZipFile(outbox, "w", compression=zipfile.ZIP_STORED) as archive:
        for member in members:
            info = zipfile.ZipInfo(member.name, date_time=_zip_time(member.modified))
            info.external_attr = 0o644 << 16  # rw-r--r-- when unpacked
            large = member.size is None or member.size >= _ZIP64_FROM
            with archive.open(info, "w", force_zip64=large) as entry:
                for chunk in member.chunks:
                    entry.write(chunk)
                    yield from _sent(outbox)
            yield from _sent(outbox)  # the member's data descriptor
    yield from _sent(outbox)  # the central directory, written on close


def _sent(outbox: _Outbox) -> Iterator[bytes]:
    if data := outbox.take():
        yield data


def _zip_time(moment: datetime) -> tuple[int, int, int, int, int, int]:
    # ZIP times are local, with two-second steps, and start in 1980.
    if moment.year < 1980:
        return (1980, 1, 1, 0, 0, 0)
    return moment.timetuple()[:6]
