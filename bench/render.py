"""Local renderer benchmark: speed per 5 s clip, and peak memory for 30 s 1080p.

    .venv/bin/python bench/render.py           # speed and peak memory
    .venv/bin/python bench/render.py --json    # speed only, as JSON (make bench)

Speed runs pinned to one CPU (a worker gets one core). "encode only" is plain
PyAV encoding of the very same frames, decoded into memory beforehand, with
the renderer's preset and thread settings; the ratio shows what drawing and
compositing add on top of the encoder.

Peak memory is the high-water RSS (VmHWM; ru_maxrss where there is no /proc)
of a fresh child process that renders a 30 s 1080p clip with audio: from the
prompt alone, and with a 12 Mpx start image and an end image (the heaviest
path), with the renderer imported on its own (it has no Django in it); then
the heaviest path again inside a configured Django process, as a worker runs
it. The test suite runs the same child for 3 s only:
frames are streamed, so memory does not grow with duration.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parent.parent
PROVIDERS = ROOT / "playground" / "providers"
sys.path.insert(0, str(PROVIDERS))

from localrender import RenderRequest, frame_size, render  # noqa: E402
from localrender.encode import CRF, ENCODER_THREADS, PRESET, x264_params  # noqa: E402

PROMPT = "A red fox trotting through fresh snow at dawn, cinematic light"
CLIP_SECONDS = 5.0
FPS = 24

_CHILD = """
import json, os, resource, sys
from pathlib import Path
from PIL import Image
root, out, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
if mode == "django":
    sys.path.insert(0, str(root))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    django.setup()
    from playground.providers.localrender import RenderRequest, render
else:
    sys.path.insert(0, str(root / "playground" / "providers"))
    from localrender import RenderRequest, render
images = {}
if mode != "prompt":
    Image.new("RGB", (4000, 3000), (120, 90, 60)).save(out / "start.jpg")
    Image.new("RGB", (3000, 4000), (20, 40, 90)).save(out / "end.png")
    images = {"start_image": out / "start.jpg", "end_image": out / "end.png"}
request = RenderRequest(1920, 1080, 30.0, "memory check", audio=True, **images)
render(request, out / "clip")


def peak_mb():
    # VmHWM is this process's own high-water mark. ru_maxrss is not, on Linux:
    # it keeps the parent's peak across fork and exec, and the parent here is
    # a test runner or a benchmark that has just held many decoded frames.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)


print(json.dumps({"peak_mb": peak_mb()}))
"""


def _pin_to_one_cpu() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity here)"


def _encode_only(path: Path) -> float:
    """Seconds to encode the frames of path, held in memory, as the renderer does."""
    with av.open(str(path)) as source:
        frames = [frame.to_ndarray() for frame in source.decode(video=0)]
        width, height = source.streams.video[0].width, source.streams.video[0].height
    buffer = io.BytesIO()
    started = time.perf_counter()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream(
            "libx264",
            rate=FPS,
            options={"preset": PRESET, "crf": str(CRF), "x264-params": x264_params()},
        )
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.thread_count = ENCODER_THREADS
        for index, array in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(array, format="yuv420p")
            frame.pts, frame.time_base = index, Fraction(1, FPS)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return time.perf_counter() - started


def _peak_mb(mode: str) -> str:
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(ROOT), out, mode],
            capture_output=True,
            text=True,
            timeout=600,
        )
    if done.returncode != 0:
        return "failed: " + (done.stderr.strip().splitlines() or ["?"])[-1]
    return f"{json.loads(done.stdout.strip().splitlines()[-1])['peak_mb']:.0f} MB"


def speed_rows() -> list[dict]:
    """Seconds per 5 s clip at 480p, 720p and 1080p, and the same frames' plain encoding."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for resolution in ("480p", "720p", "1080p"):
            width, height = frame_size("16:9", resolution)
            request = RenderRequest(width, height, CLIP_SECONDS, PROMPT, fps=FPS)
            started = time.perf_counter()
            result = render(request, Path(tmp) / resolution)
            seconds = time.perf_counter() - started
            encode = _encode_only(result.video_path)
            rows.append(
                {
                    "resolution": resolution,
                    "width": width,
                    "height": height,
                    "render_s": seconds,
                    "encode_s": encode,
                    "ratio": seconds / encode,
                    "mb": result.size_bytes / 1e6,
                }
            )
    return rows


def main() -> None:
    pinned = _pin_to_one_cpu()
    if "--json" in sys.argv[1:]:
        # Speed only, for bench/run.py (make bench).
        print(json.dumps({"pinned": pinned, "preset": PRESET, "rows": speed_rows()}))
        return
    print(f"x264 preset {PRESET} ({x264_params()}), crf {CRF}, {ENCODER_THREADS} encoder thread")
    print(f"speed: {pinned}, {CLIP_SECONDS:g} s clips at {FPS} fps, 16:9, no audio")
    print()
    print(f"{'size':>10} {'render s':>9} {'encode only s':>14} {'ratio':>6} {'MB file':>8}")
    for row in speed_rows():
        print(
            f"{row['width']:>5}x{row['height']:<4} {row['render_s']:>9.2f} "
            f"{row['encode_s']:>14.2f} {row['ratio']:>6.2f} {row['mb']:>8.2f}"
        )
    print()
    print("peak RSS, 30 s 1080p clip with audio, fresh process:")
    for mode, title in (
        ("prompt", "prompt only, renderer alone"),
        ("images", "12 Mpx start + end image, renderer alone"),
        ("django", "12 Mpx start + end image, inside Django"),
    ):
        print(f"  {title:<44} {_peak_mb(mode)}")


if __name__ == "__main__":
    main()
