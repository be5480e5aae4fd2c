"""What the renderer is asked for and what it hands back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_LABEL = "LOCAL PREVIEW · not AI output"


@dataclass(frozen=True)
class RenderRequest:
    width: int
    height: int
    duration: float  # seconds
    prompt: str
    seed: int = 0
    fps: int = 24
    audio: bool = False  # add an audible AAC track
    start_image: Path | None = None  # becomes the first frame, then a slow zoom
    end_image: Path | None = None  # cross-fade to it at the end
    motion_video: Path | None = None  # its frames and motion drive the picture
    label: str = DEFAULT_LABEL

    @property
    def frame_count(self) -> int:
        return max(1, round(self.duration * self.fps))


@dataclass(frozen=True)
class RenderResult:
    video_path: Path
    poster_path: Path  # JPEG
    width: int
    height: int
    duration: float  # of the file written: frame_count / fps
    has_audio: bool
    size_bytes: int
