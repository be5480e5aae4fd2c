"""The streamed ZIP: a valid archive, sent chunk by chunk, members opened in turn."""

import io
import zipfile
from datetime import datetime

from playground.zipstream import Member, stream

WHEN = datetime(2026, 5, 4, 12, 30, 10)


def test_it_makes_an_archive_that_zipfile_reads_back():
    big = bytes(range(256)) * 4096  # 1 MiB
    data = b"".join(
        stream(
            [
                Member("a.mp4", [big[:600_000], big[600_000:]], WHEN, size=len(big)),
                Member("SKIPPED.txt", [b"gen_x: not finished\n"], datetime(1970, 1, 1)),
            ]
        )
    )
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    assert archive.read("a.mp4") == big
    assert archive.read("SKIPPED.txt") == b"gen_x: not finished\n"
    info = archive.getinfo("a.mp4")
    assert info.compress_type == zipfile.ZIP_STORED and info.date_time == WHEN.timetuple()[:6]
    # Before 1980 the ZIP format has no date: the earliest it has.
    assert archive.getinfo("SKIPPED.txt").date_time == (1980, 1, 1, 0, 0, 0)


def test_it_sends_each_chunk_as_it_is_read_and_opens_members_in_turn():
    opened = []

    def chunks(name: str):
        opened.append(name)
        for _ in range(4):
            yield b"x" * 100_000

    def members():
        for name in ("one.mp4", "two.mp4"):
            yield Member(name, chunks(name), WHEN)

    parts = stream(members())
    first = next(parts)
    assert opened == ["one.mp4"]  # the second is not opened before its turn
    rest = list(parts)
    assert opened == ["one.mp4", "two.mp4"]
    # Never more than one chunk (and a header) held at a time.
    assert max(len(part) for part in [first, *rest]) < 100_000 + 200
    assert len(rest) >= 8
    archive = zipfile.ZipFile(io.BytesIO(first + b"".join(rest)))
    assert [info.file_size for info in archive.infolist()] == [400_000, 400_000]
