"""The instant provider: succeeds at once with a tiny pre-made MP4 and poster.

It exists for the benchmark and the fault drills only: registered when
BENCH_INSTANT_PROVIDER=1, it takes the renderer out of the pipeline, so
what is measured is the engine around it — the claim, the lease, storing
the result, the charge, the queue. It never exists in a normal install.
"""

import atexit
import shutil
import tempfile
import threading
from fractions import Fraction
from pathlib import Path

from playground import lifecycle
from playground.models import Generation
from playground.providers.base import BaseProvider, Failed, Outcome, ProgressFn, Succeeded

SIZE = 64
FRAMES = 4
FPS = 8

_lock = threading.Lock()
_files: tuple[Path, Path] | None = None


def premade() -> tuple[Path, Path]:
    """(video, poster): made once per process, removed when it exits."""
    global _files
    with _lock:
        if _files is None:
            folder = Path(tempfile.mkdtemp(prefix="reelgate-instant-"))
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            _files = (_make_video(folder / "instant.mp4"), _make_poster(folder / "poster.jpg"))
        return _files


def _make_video(path: Path) -> Path:
    import av
    import numpy as np

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width = stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        for index in range(FRAMES):
            pixels = np.full((SIZE, SIZE, 3), 40 + index * 50, np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, FPS)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _make_poster(path: Path) -> Path:
    from PIL import Image

    Image.new("RGB", (SIZE, SIZE), (40, 40, 40)).save(path, "JPEG", quality=80)
    return path


class InstantProvider(BaseProvider):
    kind = "instant"

    def start(self, generation: Generation, workdir: Path, progress: ProgressFn) -> Outcome:
        video, poster = premade()
        return Succeeded(video_path=video, poster_path=poster, note="instant (benchmark)")

    def poll(self, generation: Generation) -> Outcome:
        return Failed(lifecycle.INTERNAL_ERROR, "the instant provider has nothing to poll")
