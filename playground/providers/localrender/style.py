"""Everything the prompt decides, derived once from a hash of prompt and seed.

The same (prompt, seed) always gives the same Style, on every machine: the
hash is SHA-256 and the random stream numpy's PCG64, whose output numpy keeps
stable across releases. Colour words in the prompt pick the base hue, so "a red
fox at dawn" looks red; everything else comes from the hash.
"""

from __future__ import annotations

import colorsys
import hashlib
import re
from dataclasses import dataclass

import numpy as np

# Base hues (0..1) for words a prompt is likely to use.
_HUE_WORDS: dict[str, float] = {
    "red": 0.0,
    "fire": 0.02,
    "sunset": 0.05,
    "orange": 0.08,
    "autumn": 0.08,
    "dawn": 0.09,
    "desert": 0.1,
    "gold": 0.12,
    "golden": 0.12,
    "sand": 0.12,
    "yellow": 0.15,
    "sun": 0.14,
    "lime": 0.23,
    "green": 0.33,
    "forest": 0.3,
    "jungle": 0.31,
    "grass": 0.28,
    "teal": 0.48,
    "cyan": 0.5,
    "ice": 0.52,
    "sky": 0.55,
    "ocean": 0.57,
    "sea": 0.57,
    "water": 0.56,
    "rain": 0.6,
    "blue": 0.62,
    "night": 0.66,
    "space": 0.7,
    "purple": 0.77,
    "violet": 0.78,
    "neon": 0.85,
    "magenta": 0.85,
    "pink": 0.92,
    "rose": 0.95,
    "cherry": 0.97,
}
_WORD = re.compile(r"[a-z]+")

SHAPES = ("disc", "ring", "square")


@dataclass(frozen=True)
class Blob:
    shape: str
    color: tuple[float, float, float]  # 0..1 RGB
    opacity: float
    radius: float  # fraction of the canvas short side
    center: tuple[float, float]  # resting point, fractions of width/height
    amplitude: tuple[float, float]  # excursion, fractions of width/height
    frequency: tuple[float, float]  # cycles per second along x and y
    phase: tuple[float, float]
    pulse: float  # relative radius change per cycle


@dataclass(frozen=True)
class Style:
    background: tuple[tuple[float, float, float], tuple[float, float, float]]
    gradient_angle: float  # radians
    gradient_speed: float  # cycles per second of the colour drift
    blobs: tuple[Blob, ...]
    # Start image: the point the slow zoom moves towards (fractions).
    zoom_focus: tuple[float, float]
    zoom_amount: float
    # Audio: a chord (Hz) played as an arpeggio over a drone.
    chord: tuple[float, ...]
    beat_seconds: float
    accent: tuple[float, float, float]


def _digest(prompt: str, seed: int) -> bytes:
    return hashlib.sha256(f"{int(seed)}\x00{prompt}".encode()).digest()


def _hue_from_words(prompt: str) -> float | None:
    for word in _WORD.findall(prompt.lower()):
        if word in _HUE_WORDS:
            return _HUE_WORDS[word]
    return None


def _rgb(h: float, s: float, v: float) -> tuple[float, float, float]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return (r, g, b)


def style_for(prompt: str, seed: int) -> Style:
    rng = np.random.default_rng(int.from_bytes(_digest(prompt, seed)[:16], "big"))
    word_hue = _hue_from_words(prompt)
    base = word_hue if word_hue is not None else float(rng.random())
    base += float(rng.uniform(-0.03, 0.03))
    # A small palette around the base hue: analogous colours plus a complement.
    offsets = (0.0, 0.08, -0.08, 0.5, 0.16)
    palette = [_rgb(base + o, rng.uniform(0.45, 0.9), rng.uniform(0.55, 1.0)) for o in offsets]
    background = (
        _rgb(base, rng.uniform(0.5, 0.85), rng.uniform(0.12, 0.3)),
        _rgb(base + rng.uniform(-0.12, 0.12), rng.uniform(0.4, 0.8), rng.uniform(0.35, 0.6)),
    )
    blobs = []
    for _ in range(int(rng.integers(3, 7))):
        blobs.append(
            Blob(
                shape=SHAPES[int(rng.integers(0, len(SHAPES)))],
                color=palette[int(rng.integers(0, len(palette)))],
                opacity=float(rng.uniform(0.55, 0.9)),
                radius=float(rng.uniform(0.08, 0.24)),
                center=(float(rng.uniform(0.2, 0.8)), float(rng.uniform(0.25, 0.7))),
                amplitude=(float(rng.uniform(0.08, 0.3)), float(rng.uniform(0.05, 0.2))),
                frequency=(float(rng.uniform(0.05, 0.3)), float(rng.uniform(0.05, 0.3))),
                phase=(float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(0, 2 * np.pi))),
                pulse=float(rng.uniform(0.0, 0.2)),
            )
        )
    # Pentatonic root between A2 and A3; major, minor or suspended chord.
    root = 110.0 * 2 ** (int(rng.choice([0, 2, 3, 5, 7, 8, 10, 12])) / 12)
    intervals = ((0, 4, 7, 12), (0, 3, 7, 10), (0, 5, 7, 12))[int(rng.integers(0, 3))]
    chord = tuple(root * 2 ** (i / 12) for i in intervals)
    return Style(
        background=background,
        gradient_angle=float(rng.uniform(0, 2 * np.pi)),
        gradient_speed=float(rng.uniform(0.03, 0.12)),
        blobs=tuple(blobs),
        zoom_focus=(float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.3, 0.7))),
        zoom_amount=float(rng.uniform(0.06, 0.14)),
        chord=chord,
        beat_seconds=float(rng.choice([0.25, 1 / 3, 0.375, 0.5])),
        accent=palette[3],
    )
