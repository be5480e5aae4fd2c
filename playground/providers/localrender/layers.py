"""Full-resolution overlays blended into yuv420p frames.

A layer (the preview label, the caption, the character card) is converted to
premultiplied Y/U/V with 0..256 weights once; placing it on a frame is then
one multiply-add-shift per pixel of its own box, wherever it moves.
"""

from __future__ import annotations

import av
import numpy as np

from .yuv import alpha256, halve, planes, rgb_to_yuv444


def _pad_even(rgba: np.ndarray) -> np.ndarray:
    h, w = rgba.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return rgba
    out = np.zeros((h + h % 2, w + w % 2, 4), dtype=np.uint8)
    out[:h, :w] = rgba
    return out


class Layer:
    """An RGBA picture ready to blend at any even (x, y) of a yuv420p frame."""

    def __init__(self, rgba: np.ndarray) -> None:
        rgba = _pad_even(np.asarray(rgba, dtype=np.uint8))
        self.height, self.width = rgba.shape[:2]
        a = alpha256(rgba[..., 3])
        y, u, v = rgb_to_yuv444(rgba[..., :3])
        a_c = halve(a)
        # Chroma is premultiplied at full resolution and then averaged, so edges
        # of text take no colour from the transparent pixels around them.
        self._planes = (
            (y.astype(np.uint16) * a, 256 - a),
            (halve(u.astype(np.uint32) * a), 256 - a_c),
            (halve(v.astype(np.uint32) * a), 256 - a_c),
        )

    def blend(self, frame: av.VideoFrame, x: int, y: int) -> None:
        """Blend with the top-left corner at (x, y); parts outside are clipped."""
        x -= x % 2
        y -= y % 2
        for index, (target, (pre, inv)) in enumerate(zip(planes(frame), self._planes, strict=True)):
            shift = 0 if index == 0 else 1
            _blend_plane(target, pre, inv, x >> shift, y >> shift)


def _blend_plane(target: np.ndarray, pre: np.ndarray, inv: np.ndarray, x: int, y: int) -> None:
    th, tw = target.shape
    lh, lw = pre.shape
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + lw, tw), min(y + lh, th)
    if x0 >= x1 or y0 >= y1:
        return
    region = target[y0:y1, x0:x1]
    ly, lx = y0 - y, x0 - x
    mixed = region * inv[ly : ly + (y1 - y0), lx : lx + (x1 - x0)]
    mixed += pre[ly : ly + (y1 - y0), lx : lx + (x1 - x0)]
    mixed >>= 8
    region[...] = mixed


def crossfade(frame: av.VideoFrame, target: tuple[np.ndarray, ...], weight: int) -> None:
    """Move every plane of frame towards target planes by weight/256."""
    if weight <= 0:
        return
    for plane, goal in zip(planes(frame), target, strict=True):
        if weight >= 256:
            plane[...] = goal
            continue
        mixed = plane * np.uint16(256 - weight)
        mixed += goal * np.uint16(weight)
        mixed >>= 8
        plane[...] = mixed
