"""Frame sizes: the resolution names the short side, the aspect ratio the long one."""

from __future__ import annotations

import operator
import re

from .errors import RenderError

# Limits that keep one request within what a worker can encode: H.264 level
# 5.2 tops out at 4096 wide, and anything below 16 px is not a picture.
MIN_SIDE = 16
MAX_SIDE = 4096
MAX_PIXELS = 4096 * 2304

_RATIO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*[:x/]\s*(\d+(?:\.\d+)?)\s*$")
_RESOLUTION = re.compile(r"^\s*(\d+)\s*p\s*$", re.IGNORECASE)
_NAMED_RESOLUTIONS = {"4k": 2160, "2k": 1440}


def _even(value: float) -> int:
    """Nearest even integer: yuv420p halves both sides for chroma."""
    return max(2, int(round(value / 2.0)) * 2)


def parse_aspect_ratio(aspect_ratio: str) -> tuple[float, float]:
    match = _RATIO.match(aspect_ratio or "")
    if not match:
        raise RenderError(f"Aspect ratio {aspect_ratio!r} is not of the form W:H, e.g. 16:9.")
    w, h = float(match.group(1)), float(match.group(2))
    if w <= 0 or h <= 0 or not (0.25 <= w / h <= 4.0):
        raise RenderError(f"Aspect ratio {aspect_ratio!r} is outside 1:4 to 4:1.")
    return w, h


def parse_resolution(resolution: str) -> int:
    text = (resolution or "").strip().lower()
    if text in _NAMED_RESOLUTIONS:
        return _NAMED_RESOLUTIONS[text]
    match = _RESOLUTION.match(text)
    if not match:
        raise RenderError(f"Resolution {resolution!r} is not of the form 720p.")
    return int(match.group(1))


def frame_size(aspect_ratio: str, resolution: str) -> tuple[int, int]:
    """(width, height) for e.g. ("16:9", "720p") -> (1280, 720); always even."""
    w, h = parse_aspect_ratio(aspect_ratio)
    short = parse_resolution(resolution)
    if w >= h:
        size = (_even(short * w / h), _even(short))
    else:
        size = (_even(short), _even(short * h / w))
    check_size(*size)
    return size


def _is_whole(value: object) -> bool:
    """An int or anything that is one (numpy integers), but not a bool."""
    if isinstance(value, bool):
        return False
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


def check_size(width: int, height: int) -> None:
    """Refuse sizes the encoder can't take, with a message a person can act on."""
    if not (_is_whole(width) and _is_whole(height)):
        raise RenderError(f"Frame size {width!r}x{height!r} must be whole numbers of pixels.")
    width, height = operator.index(width), operator.index(height)
    if width % 2 or height % 2:
        raise RenderError(f"Frame size {width}x{height} must have even sides (H.264 yuv420p).")
    if min(width, height) < MIN_SIDE or max(width, height) > MAX_SIDE:
        raise RenderError(
            f"Frame size {width}x{height} is outside {MIN_SIDE}..{MAX_SIDE} pixels per side."
        )
    if width * height > MAX_PIXELS:
        raise RenderError(f"Frame size {width}x{height} is larger than 4K.")
