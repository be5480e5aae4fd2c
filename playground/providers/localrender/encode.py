"""The MP4 writer: H.264 yuv420p video, optional AAC audio, moov atom first."""

from __future__ import annotations

import contextlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from .audio import CHUNK, SAMPLE_RATE, ToneTrack
from .yuv import COLOR_RANGE, COLORSPACE

# veryfast with a 5-frame lookahead and one B-frame. Measured on one core,
# 120 frames of 1080p of this renderer's pictures:
#   ultrafast                      0.7 s   35 MB encoder memory   1.0 MB file
#   superfast                      1.6 s  107 MB                  0.95 MB
#   veryfast                       2.1 s  154 MB                  0.45 MB
#   veryfast, lookahead 5, 1 B     1.75 s  95 MB                  0.45 MB
# All four are visually lossless on these smooth pictures (Y PSNR 49-55 dB),
# so the choice is speed against file size and memory. ultrafast is fastest
# but has no CABAC or deblocking and makes files twice as large, which every
# gallery view then downloads. The default veryfast lookahead (10 frames, 3
# B-frames) holds frames that only cost memory: 30 s at 1080p must stay under
# 300 MB per worker. The trimmed veryfast gives the small files at superfast
# speed, with less memory than either.
PRESET = "veryfast"
X264_PARAMS = "rc-lookahead=5:bframes=1"
CRF = 23
# One encoder thread: a worker gets one core, and frame threads would add
# latency and memory (a reorder buffer per thread) without making a 2-core
# machine with two busy workers any faster.
ENCODER_THREADS = 1
KEYFRAME_SECONDS = 2  # browsers seek to keyframes: scrubbing stays responsive


def _x264_instruction_set() -> str:
    """The x264 "asm" setting: empty (x264 picks) except on AVX-512 CPUs.

    x264's AVX-512 code for the macroblock-tree lookahead (mbtree, on in every
    preset from veryfast up) reads heap memory it never wrote: at 854x480, for
    one, the same frames then encode to different bits from one render to the
    next, depending on what the process happened to allocate and free before
    (another render, a test, a Django request). Its AVX2 code gives the same
    file every time, at the same speed and size here, and x264's "AVX2" set
    includes everything below it. Turning mbtree off instead would also do,
    but makes files about 55 % larger and encoding slower.
    """
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as cpu
    except ImportError:  # numpy 1.x
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as cpu
        except ImportError:
            return ""
    # AVX512_SKX is F, CD, BW, DQ and VL: exactly what x264 requires before it
    # uses AVX-512. Every such CPU has the AVX2 set, checked all the same so
    # that x264 is never told to use instructions the CPU lacks.
    if not cpu.get("AVX512_SKX"):
        return ""
    if all(cpu.get(name) for name in ("AVX2", "FMA3", "BMI", "BMI2", "LZCNT")):
        return "AVX2"
    return "AVX" if cpu.get("AVX") else ""


X264_ASM = _x264_instruction_set()


def x264_params() -> str:
    """X264_PARAMS plus the instruction set, as the encoder is given them."""
    return f"{X264_PARAMS}:asm={X264_ASM}" if X264_ASM else X264_PARAMS


class Mp4Writer:
    def __init__(
        self, path: Path, width: int, height: int, fps: int, audio: ToneTrack | None
    ) -> None:
        self.fps = fps
        self._container = av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"})
        try:
            video = self._container.add_stream(
                "libx264",
                rate=fps,
                options={"preset": PRESET, "crf": str(CRF), "x264-params": x264_params()},
            )
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            ctx = video.codec_context
            ctx.thread_count = ENCODER_THREADS
            ctx.gop_size = max(1, fps * KEYFRAME_SECONDS)
            ctx.colorspace = int(COLORSPACE)
            ctx.color_primaries = 1  # BT.709
            ctx.color_trc = 1  # BT.709
            ctx.color_range = int(COLOR_RANGE)
            self._video = video
            self._audio_track = audio
            self._audio = None
            if audio is not None:
                self._audio = self._container.add_stream("aac", rate=SAMPLE_RATE, layout="stereo")
                self._audio.codec_context.thread_count = 1
            self._audio_pos = 0
        except BaseException:
            self._container.close()
            raise

    def write(self, frame: av.VideoFrame, index: int) -> None:
        frame.pts = index
        frame.time_base = Fraction(1, self.fps)
        self._container.mux(self._video.encode(frame))
        # Audio follows the video as it goes, so the muxer never buffers much.
        self._write_audio(round((index + 1) * SAMPLE_RATE / self.fps), final=False)

    def _write_audio(self, until: int, final: bool) -> None:
        track = self._audio_track
        if track is None or self._audio is None:
            return
        until = min(until, track.total)
        while self._audio_pos < until:
            count = min(CHUNK, track.total - self._audio_pos)
            if self._audio_pos + count > until and not final:
                return  # a partial chunk only as the very last one
            samples = track.samples(self._audio_pos, count)
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples), format="fltp", layout="stereo"
            )
            frame.sample_rate = SAMPLE_RATE
            frame.pts = self._audio_pos
            frame.time_base = Fraction(1, SAMPLE_RATE)
            self._container.mux(self._audio.encode(frame))
            self._audio_pos += count

    def close(self) -> None:
        """Flush the encoders and finish the file (writes the moov atom)."""
        if self._audio_track is not None:
            self._write_audio(self._audio_track.total, final=True)
        self._container.mux(self._video.encode(None))
        if self._audio is not None:
            self._container.mux(self._audio.encode(None))
        self._container.close()

    def abort(self) -> None:
        # Already failing: the partial file is discarded, a second error would
        # only hide the first.
        with contextlib.suppress(Exception):
            self._container.close()
