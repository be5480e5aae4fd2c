"""Frames as numpy planes, and RGB to YUV the one way the whole renderer uses.

Every picture ends up as a yuv420p frame at the output size, and everything
drawn at full resolution (text, the character card, the end image) is
blended straight into its Y, U and V planes: converting a full-size RGB frame
per output frame would cost as much as drawing it. All RGB to YUV conversions
go through swscale with the same matrix (BT.709, limited range), which is the
one the encoder tags on the stream, so colours match what browsers show.
"""

from __future__ import annotations

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, Interpolation, VideoReformatter

COLORSPACE = Colorspace.ITU709
COLOR_RANGE = ColorRange.MPEG
# Scaling runs on the calling thread: a worker renders on one core, and
# swscale's own thread pool would only contend with the encoder.
SCALE_THREADS = 1


class Converter:
    """One swscale context reused for every frame of a render (building one per
    frame costs about as much as the scaling itself)."""

    def __init__(self) -> None:
        self._reformatter = VideoReformatter()

    def to_yuv420p(self, frame: av.VideoFrame, width: int, height: int) -> av.VideoFrame:
        return self._reformatter.reformat(
            frame,
            width,
            height,
            "yuv420p",
            dst_colorspace=COLORSPACE,
            dst_color_range=COLOR_RANGE,
            interpolation=Interpolation.BILINEAR,
            threads=SCALE_THREADS,
        )

    def rgb_to_yuv420p(self, rgb: np.ndarray, width: int, height: int) -> av.VideoFrame:
        # from_ndarray follows the strides: a crop window needs no copy first.
        src = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        return self.to_yuv420p(src, width, height)

    def to_rgb(self, frame: av.VideoFrame, width: int, height: int) -> av.VideoFrame:
        return self._reformatter.reformat(
            frame,
            width,
            height,
            "rgb24",
            src_colorspace=COLORSPACE,
            src_color_range=COLOR_RANGE,
            interpolation=Interpolation.BICUBIC,
            threads=SCALE_THREADS,
        )


def rgb_to_yuv444(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full-resolution Y, U, V of an RGB image (for layers, computed once)."""
    src = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    out = VideoReformatter().reformat(
        src,
        format="yuv444p",
        dst_colorspace=COLORSPACE,
        dst_color_range=COLOR_RANGE,
        threads=SCALE_THREADS,
    )
    return tuple(plane_array(out, i).copy() for i in range(3))  # type: ignore[return-value]


def plane_array(frame: av.VideoFrame, index: int) -> np.ndarray:
    """A writable (height, width) view of one plane, skipping the line padding."""
    plane = frame.planes[index]
    rows = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]


def planes(frame: av.VideoFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return plane_array(frame, 0), plane_array(frame, 1), plane_array(frame, 2)


def new_frame(width: int, height: int) -> av.VideoFrame:
    frame = av.VideoFrame(width, height, "yuv420p")
    frame.colorspace = COLORSPACE
    frame.color_range = COLOR_RANGE
    return frame


def alpha256(alpha: np.ndarray) -> np.ndarray:
    """0..255 alpha to 0..256 weights, so blends are one multiply and a shift
    in uint16 (255 * 256 still fits)."""
    return ((alpha.astype(np.uint32) * 256 + 127) // 255).astype(np.uint16)


def halve(values: np.ndarray) -> np.ndarray:
    """2x2 block mean of an even-sized uint16/uint32 array (chroma subsampling)."""
    v = values.astype(np.uint32)
    total = v[0::2, 0::2] + v[1::2, 0::2] + v[0::2, 1::2] + v[1::2, 1::2]
    return ((total + 2) // 4).astype(np.uint16)
