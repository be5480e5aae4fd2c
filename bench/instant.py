"""The instant provider: succeeds at once with a tiny pre-made MP4 and poster.

It exists for the benchmark and the fault drills only: bench.settings
registers its kind, and with it the renderer is out of the pipeline, so
what is measured is the engine around it — the claim, the lease, storing
the result, the charge, the queue. A real install (config.settings) has no
such kind.
"""

import functools
import io
from fractions import Fraction
from pathlib import Path

from playground.models import Generation
from playground.providers.base import BaseProvider, Failed, Outcome, ProgressFn, Succeeded

SIZE = 64
FRAMES = 4
FPS = 8


@functools.cache
def premade() -> tuple[bytes, bytes]:
    """(MP4, JPEG) bytes, made once per process."""
    import av
    import numpy as np
    from PIL import Image

    video = io.BytesIO()
    with av.open(video, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width = stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        for index in range(FRAMES):
            pixels = np.full((SIZE, SIZE, 3), 40 + index * 50, np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, FPS)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    poster = io.BytesIO()
    Image.new("RGB", (SIZE, SIZE), (40, 40, 40)).save(poster, "JPEG", quality=80)
    return video.getvalue(), poster.getvalue()


class InstantProvider(BaseProvider):
    kind = "instant"

    def start(self, generation: Generation, workdir: Path, progress: ProgressFn) -> Outcome:
        # Written into the workdir, which the engine removes after storing them.
        video, poster = premade()
        video_path, poster_path = workdir / "instant.mp4", workdir / "instant.jpg"
        video_path.write_bytes(video)
        poster_path.write_bytes(poster)
        return Succeeded(video_path=video_path, poster_path=poster_path, note="instant (benchmark)")

    def poll(self, generation: Generation, workdir: Path | None = None) -> Outcome:
        return Failed(
            Generation.FailCode.INTERNAL_ERROR, "the instant provider has nothing to poll"
        )
