"""A few tones chosen by the prompt: an arpeggio over a soft drone, in stereo.

Samples are a pure function of their index, so the track is generated in
encoder-sized chunks as the video is written (nothing is held) and is the same
on every run.
"""

from __future__ import annotations

import math

import numpy as np

from .style import Style

SAMPLE_RATE = 48_000
CHUNK = 1024  # AAC frame size
FADE_SECONDS = 0.02  # no click at the very start and end


class ToneTrack:
    def __init__(self, style: Style, total_samples: int) -> None:
        self.total = total_samples
        self._chord = np.array(style.chord, dtype=np.float64)
        self._beat = style.beat_seconds
        self._root = float(style.chord[0])
        self._fifth = float(style.chord[0]) * 1.5

    def samples(self, start: int, count: int) -> np.ndarray:
        """Planar float32 samples (2, count) from sample index start."""
        n = np.arange(start, start + count, dtype=np.float64)
        t = n / SAMPLE_RATE
        beat = np.floor(t / self._beat)
        since = t - beat * self._beat
        notes = self._chord[(beat % len(self._chord)).astype(np.int64)]
        # Each note starts at phase zero with a 5 ms attack and decays over the beat.
        envelope = np.minimum(since / 0.005, 1.0) * np.exp(-since * 4.0 / self._beat)
        arpeggio = 0.28 * envelope * np.sin(2 * math.pi * notes * since)
        drone = 0.07 * (
            np.sin(2 * math.pi * self._root * t) + np.sin(2 * math.pi * self._fifth * t)
        )
        # Alternate notes lean left and right; the drone stays in the middle.
        pan = np.where(beat % 2 == 0, 0.3, -0.3)
        left = drone + arpeggio * (1 - pan)
        right = drone + arpeggio * (1 + pan)
        fade = np.minimum(1.0, np.minimum(n, self.total - 1 - n) / (FADE_SECONDS * SAMPLE_RATE))
        fade = np.clip(fade, 0.0, 1.0)
        return np.stack([left * fade, right * fade]).astype(np.float32)
