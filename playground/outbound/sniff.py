"""What a file is, judged by its first bytes. A server's Content-Type is not trusted."""

from __future__ import annotations

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime", "video/webm"})

# Enough for every signature below and for an HTML page's doctype after some
# whitespace or a byte-order mark.
SNIFF_BYTES = 512

EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "image/avif": ".avif",
    "image/heic": ".heic",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
    "video/x-matroska": ".mkv",
    "video/3gpp": ".3gp",
    "audio/mp4": ".m4a",
}

# ISO base media files (MP4, MOV, HEIF, AVIF, 3GP) all start with an `ftyp`
# box; its major brand says which one it is. Unknown brands are MP4 variants
# (isom, iso2, mp41, mp42, avc1, dash, ...).
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
# Classic QuickTime files have no ftyp box and start with one of these atoms.
_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


def _iso_media_type(head: bytes) -> str:
    major = head[8:12]
    # The compatible brands follow the minor version, up to the box's end.
    size = int.from_bytes(head[0:4], "big")
    brands = {major} | {head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4)}
    if major in _AVIF_BRANDS:
        return "image/avif"
    if major in _HEIF_BRANDS:
        # mif1 is generic HEIF; the compatible brands say whether it is AVIF.
        return "image/avif" if brands & _AVIF_BRANDS else "image/heic"
    if major == b"qt  ":
        return "video/quicktime"
    if major.startswith(b"3g"):
        return "video/3gpp"
    if major in (b"M4A ", b"M4B ", b"M4P "):
        return "audio/mp4"
    return "video/mp4"


def sniff_type(first_bytes: bytes) -> str | None:
    """The MIME type of a file from its first bytes (SNIFF_BYTES are plenty), or None.

    Knows JPEG, PNG, WebP, GIF, AVIF/HEIC, MP4, QuickTime, 3GP, WebM/Matroska.
    Text formats (HTML, SVG, JSON) are deliberately not recognised: none of
    them is an acceptable image or video input.
    """
    head = first_bytes
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[0:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[0:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[4:8] == b"ftyp" and len(head) >= 12:
        return _iso_media_type(head)
    # A box size whose first byte is zero (under 16 MB) keeps text that
    # happens to have "free" at offset 4 from passing as a movie.
    if head[4:8] in _QUICKTIME_ATOMS and head[0] == 0:
        return "video/quicktime"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML header
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    return None


def describe_content(first_bytes: bytes) -> str:
    """A few words on what the bytes look like, for refusal messages."""
    mime = sniff_type(first_bytes)
    if mime is not None:
        return mime
    head = first_bytes
    if not head:
        return "an empty body"
    if head.startswith(b"\x1f\x8b"):
        return "gzip-compressed data"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in text:
        return "an HTML page"
    if b"<svg" in text:
        return "an SVG image"
    if text.startswith(b"<?xml"):
        return "an XML document"
    if text[:1] in (b"{", b"["):
        return "JSON"
    try:
        # A cut in the middle of a multi-byte character is still text.
        decoded = head[:256].decode("utf-8", errors="strict" if len(head) < 256 else "ignore")
    except UnicodeDecodeError:
        return "unrecognised binary data"
    if decoded and all(ch.isprintable() or ch in "\r\n\t" for ch in decoded):
        return "plain text"
    return "unrecognised binary data"


def extension_for(mime_type: str) -> str:
    """The usual file extension for a sniffed type, with its dot ("" if unknown)."""
    return EXTENSIONS.get(mime_type, "")
