"""Images that are small files but large pictures, for the decode limits' tests."""

import io
import struct
import zlib

from PIL import Image


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def decompression_bomb(width: int, height: int) -> bytes:
    """A valid PNG of width x height black pixels, one bit each, compressed to
    about a thousandth of its decoded size: 30000x30000 is a 110 KB file
    that Pillow would decode to 900 MB (2.7 GB as RGB)."""
    row = bytes(1 + (width + 7) // 8)  # filter byte "none", then the bits
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", data)
        + _chunk(b"IEND", b"")
    )


def animated_png(frames: int, size: tuple[int, int] = (16, 16)) -> bytes:
    """An APNG of `frames` frames (alternating colours, so none is merged away)."""
    pictures = [
        Image.new("RGB", size, (255, 0, 0) if n % 2 else (0, 0, 255)) for n in range(frames)
    ]
    out = io.BytesIO()
    pictures[0].save(out, format="PNG", save_all=True, append_images=pictures[1:], duration=40)
    return out.getvalue()
