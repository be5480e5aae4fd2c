"""One render: the request checked, inputs loaded, then frame by frame to MP4.

Each frame goes to the encoder as soon as it is composed: memory holds one
frame plus the encoder's small lookahead, whatever the duration.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import numbers
import os
from collections.abc import Callable
from pathlib import Path

import av
from PIL import Image

from .audio import SAMPLE_RATE, ToneTrack
from .encode import Mp4Writer
from .errors import RenderError
from .images import load_image
from .motion import MotionSource
from .picture import Picture
from .request import RenderRequest, RenderResult
from .sizes import check_size
from .style import style_for
from .yuv import Converter

VIDEO_NAME = "video.mp4"
POSTER_NAME = "poster.jpg"
POSTER_MAX_WIDTH = 1280
MAX_DURATION = 600.0  # seconds; anything longer is a mistake, not a preview
MAX_FPS = 60

ProgressCallback = Callable[[int], None]


def render(
    request: RenderRequest, out_dir: Path, on_progress: ProgressCallback | None = None
) -> RenderResult:
    """Render request to out_dir/video.mp4 and out_dir/poster.jpg.

    Raises RenderError for a request or input file a person has to fix; no
    file is created then. The files appear complete or not at all (written
    under temporary names, renamed at the end). An exception raised by
    on_progress aborts the render and propagates: that is how a caller cancels.
    """
    _check(request)
    # Plain Python numbers from here on (numpy integers or a Decimal duration
    # are accepted above, but PyAV and the frame maths want int and float).
    request = dataclasses.replace(
        request,
        width=int(request.width),
        height=int(request.height),
        fps=int(request.fps),
        duration=float(request.duration),
    )
    width, height = request.width, request.height
    style = style_for(request.prompt or "", request.seed)
    # Inputs first, so a bad file fails before anything is written.
    start = _load(request.start_image, "start image", width, height)
    end = _load(request.end_image, "end image", width, height)
    motion = (
        MotionSource(Path(request.motion_video), width, height) if request.motion_video else None
    )
    try:
        picture = Picture(request, style, start, end, motion)
        del start, end  # the picture keeps what it needs, at output size
        audio = None
        if request.audio:
            audio = ToneTrack(style, round(picture.total * SAMPLE_RATE / picture.fps))
        return _write(picture, audio, Path(out_dir), on_progress)
    finally:
        if motion is not None:
            motion.close()


def _check(request: RenderRequest) -> None:
    check_size(request.width, request.height)
    fps = request.fps
    if not _is_integer(fps) or not 1 <= fps <= MAX_FPS:
        raise RenderError(f"Frame rate {fps!r} must be a whole number from 1 to {MAX_FPS}.")
    duration = request.duration
    # Any real number (int, float, Decimal, Fraction), never a string: "5" * 24
    # would be text, not a frame count.
    if (
        isinstance(duration, bool | complex)
        or not isinstance(duration, numbers.Number)
        or not math.isfinite(float(duration))
        or duration <= 0
    ):
        raise RenderError(f"Duration {duration!r} must be a positive number of seconds.")
    if duration > MAX_DURATION:
        raise RenderError(f"Duration {float(duration):g} s is longer than {MAX_DURATION:g} s.")


def _is_integer(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _load(path: Path | str | None, role: str, width: int, height: int) -> Image.Image | None:
    return load_image(Path(path), role, width, height) if path else None


class _Progress:
    """Percentages about every 5 %, strictly increasing; 100 only once the
    files are complete."""

    def __init__(self, callback: ProgressCallback | None, total: int) -> None:
        self._callback = callback
        self._total = total
        self._last = 0

    def frame_done(self, index: int) -> None:
        percent = min(99, (index + 1) * 100 // self._total)
        if percent >= self._last + 5:
            self._emit(percent)

    def finished(self) -> None:
        self._emit(100)

    def _emit(self, percent: int) -> None:
        self._last = percent
        if self._callback is not None:
            self._callback(percent)


def _save_poster(frame: av.VideoFrame, path: Path) -> None:
    width = min(frame.width, POSTER_MAX_WIDTH)
    height = max(2, round(frame.height * width / frame.width))
    image = Converter().to_rgb(frame, width, height).to_image()
    image.save(path, "JPEG", quality=85, optimize=True)


def _write(
    picture: Picture,
    audio: ToneTrack | None,
    out_dir: Path,
    on_progress: ProgressCallback | None,
) -> RenderResult:
    out_dir.mkdir(parents=True, exist_ok=True)
    video_path, poster_path = out_dir / VIDEO_NAME, out_dir / POSTER_NAME
    video_tmp, poster_tmp = out_dir / f".{VIDEO_NAME}.part", out_dir / f".{POSTER_NAME}.part"
    progress = _Progress(on_progress, picture.total)
    # The middle frame: past any opening, before any closing cross-fade.
    poster_index = picture.total // 2
    writer = Mp4Writer(video_tmp, picture.width, picture.height, picture.fps, audio)
    try:
        for index in range(picture.total):
            frame = picture.frame(index)
            if index == poster_index:
                _save_poster(frame, poster_tmp)
            writer.write(frame, index)
            progress.frame_done(index)
        writer.close()
        os.replace(video_tmp, video_path)
        os.replace(poster_tmp, poster_path)
    except BaseException:
        writer.abort()
        for path in (video_tmp, poster_tmp):
            with contextlib.suppress(OSError):
                path.unlink()
        raise
    result = RenderResult(
        video_path=video_path,
        poster_path=poster_path,
        width=picture.width,
        height=picture.height,
        duration=picture.total / picture.fps,
        has_audio=audio is not None,
        size_bytes=video_path.stat().st_size,
    )
    progress.finished()
    return result
