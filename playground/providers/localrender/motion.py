"""The motion video: decoded one frame at a time, looped, and its motion tracked.

Only the current source frame is held. Frames are picked by time, so a 30 fps
source drives a 24 fps render at the right speed; a source shorter than the
render starts over. The moving parts of the picture pull the "character"
along: the centroid of frame-to-frame differences, on a coarse grid, is the
point it follows.
"""

from __future__ import annotations

import math
from pathlib import Path

import av
import numpy as np

from .errors import RenderError
from .yuv import Converter, new_frame, planes

_GRID = 48  # motion is measured on about this many samples along the short side
# The decoder holds several reference frames at the source size: a 4K source
# adds about 60 MB to a render, anything larger would break the memory budget.
MAX_SOURCE_PIXELS = 4096 * 2304


def _reason(exc: BaseException) -> str:
    """FFmpeg's words for the problem, without the file's path."""
    return str(getattr(exc, "strerror", None) or type(exc).__name__)


def _open(path: Path) -> tuple[av.container.InputContainer, av.VideoStream]:
    try:
        container = av.open(str(path), "r")
    except FileNotFoundError:
        raise RenderError("The motion video file does not exist.") from None
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise RenderError(
            f"The motion video could not be opened as a video ({_reason(exc)})."
        ) from None
    if not container.streams.video:
        container.close()
        raise RenderError("The motion video has no video track.")
    stream = container.streams.video[0]
    width, height = stream.codec_context.width, stream.codec_context.height
    if width * height > MAX_SOURCE_PIXELS:
        container.close()
        raise RenderError(f"The motion video is {width}x{height}; at most 4K is accepted.")
    # One decoder thread: the renderer's budget is one core.
    stream.codec_context.thread_count = 1
    return container, stream


class MotionSource:
    """Frames of the motion video, cover-fitted to the output size as yuv420p."""

    def __init__(self, path: Path, width: int, height: int) -> None:
        self.path = path
        self.width, self.height = width, height
        self._converter = Converter()
        self._container: av.container.InputContainer | None = None
        self._frames = None
        self._offset = 0.0  # render time at which the current loop started
        self._loop_length = 0.0
        self._current: av.VideoFrame | None = None
        self._current_time = 0.0
        self._next: av.VideoFrame | None = None
        self._next_time = 0.0
        self._restart()

    # Decoding -------------------------------------------------------------

    def _restart(self) -> None:
        self.close()
        self._container, stream = _open(self.path)
        self._stream = stream
        self._frames = self._container.decode(stream)
        self._first_time: float | None = None
        self._frame_step = 1.0 / float(stream.average_rate or 25)
        self._count = 0
        self._next, self._next_time = self._pull()
        if self._next is None:
            self.close()
            raise RenderError("The motion video has no frames that could be decoded.")
        self._advance()

    def _pull(self) -> tuple[av.VideoFrame | None, float]:
        assert self._frames is not None
        try:
            frame = next(self._frames)
        except StopIteration:
            return None, 0.0
        except (av.FFmpegError, OSError) as exc:
            if self._count == 0:
                raise RenderError(
                    f"The motion video could not be decoded ({_reason(exc)})."
                ) from None
            return None, 0.0  # a damaged tail: treat as the end of the clip
        self._count += 1
        t = frame.time if frame.time is not None else (self._count - 1) * self._frame_step
        if self._first_time is None:
            self._first_time = t
        return frame, t - self._first_time

    def _advance(self) -> None:
        self._current, self._current_time = self._next, self._next_time
        self._next, self._next_time = self._pull()

    def _source_frame(self, t: float) -> av.VideoFrame:
        local = t - self._offset
        while True:
            if self._next is not None and self._next_time <= local + 1e-6:
                self._advance()
                continue
            if self._next is None and local >= self._current_time + self._frame_step - 1e-6:
                # End of the clip: loop back to its first frame.
                self._offset += self._current_time + self._frame_step
                local = t - self._offset
                self._restart()
                continue
            assert self._current is not None
            return self._current

    # Output ----------------------------------------------------------------

    def frame(self, t: float) -> av.VideoFrame:
        """A fresh output-size frame showing the source at render time t."""
        src = self._source_frame(t)
        scale = max(self.width / src.width, self.height / src.height)
        sw = max(self.width, math.ceil(src.width * scale))
        sh = max(self.height, math.ceil(src.height * scale))
        sw += sw % 2
        sh += sh % 2
        scaled = self._converter.to_yuv420p(src, sw, sh)
        out = new_frame(self.width, self.height)
        x = ((sw - self.width) // 2) & ~1
        y = ((sh - self.height) // 2) & ~1
        for index, (target, source) in enumerate(zip(planes(out), planes(scaled), strict=True)):
            shift = 0 if index == 0 else 1
            h, w = target.shape
            target[...] = source[y >> shift : (y >> shift) + h, x >> shift : (x >> shift) + w]
        return out

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
            self._frames = None


class MotionTracker:
    """Follows where the picture moves, smoothed, as fractions of the frame."""

    def __init__(self, width: int, height: int) -> None:
        self._step = max(1, min(width, height) // _GRID)
        self._previous: np.ndarray | None = None
        self.x, self.y = 0.5, 0.55

    def update(self, frame: av.VideoFrame) -> tuple[float, float]:
        luma = planes(frame)[0][:: self._step, :: self._step].astype(np.int16)
        if self._previous is not None and self._previous.shape == luma.shape:
            diff = np.abs(luma - self._previous).astype(np.float32)
            diff -= 6.0  # below this is compression noise, not motion
            np.maximum(diff, 0.0, out=diff)
            total = float(diff.sum())
            if total > diff.size * 0.05:
                rows, cols = diff.shape
                tx = float(diff.sum(axis=0) @ np.arange(cols)) / total / max(cols - 1, 1)
                ty = float(diff.sum(axis=1) @ np.arange(rows)) / total / max(rows - 1, 1)
                self.x += (tx - self.x) * 0.15
                self.y += (ty - self.y) * 0.15
        self._previous = luma
        return self.x, self.y
