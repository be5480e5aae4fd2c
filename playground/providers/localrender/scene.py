"""The prompt-driven picture: a drifting gradient and soft moving shapes.

Drawn on a small canvas (CANVAS_SHORT_SIDE pixels on the short side) and
scaled to the output size by swscale on the way to yuv420p. Everything here is
soft-edged, so bilinear upscaling costs no visible detail, and a 320x180
canvas is 36 times fewer pixels to compute than a 1080p frame.
"""

from __future__ import annotations

import math

import numpy as np

from .style import Blob, Style

CANVAS_SHORT_SIDE = 180
EDGE = 1.2  # canvas pixels of anti-aliasing on each shape edge


def canvas_size(width: int, height: int) -> tuple[int, int]:
    scale = max(1.0, min(width, height) / CANVAS_SHORT_SIDE)
    return max(2, round(width / scale)), max(2, round(height / scale))


class Scene:
    def __init__(self, style: Style, width: int, height: int) -> None:
        self.style = style
        self.width, self.height = canvas_size(width, height)
        ys, xs = np.mgrid[0 : self.height, 0 : self.width].astype(np.float32)
        self._xs, self._ys = xs, ys
        # Position along the gradient direction, 0..1 across the canvas.
        angle = style.gradient_angle
        along = xs * math.cos(angle) + ys * math.sin(angle)
        along -= along.min()
        self._along = (along / max(float(along.max()), 1.0)).astype(np.float32)
        c0, c1 = (np.array(c, dtype=np.float32) for c in style.background)
        self._c0, self._dc = c0, c1 - c0
        self._short = float(min(self.width, self.height))

    def draw(self, t: float) -> np.ndarray:
        """The canvas at time t (seconds) as uint8 RGB."""
        phase = 2 * math.pi * (self._along * 0.75 + self.style.gradient_speed * t)
        mix = 0.5 + 0.5 * np.sin(phase)
        image = self._c0 + mix[..., None] * self._dc
        for blob in self.style.blobs:
            self._draw_blob(image, blob, t)
        np.clip(image, 0.0, 1.0, out=image)
        image *= 255.0
        return image.astype(np.uint8)

    def _draw_blob(self, image: np.ndarray, blob: Blob, t: float) -> None:
        w, h = self.width, self.height
        cx = (
            blob.center[0]
            + blob.amplitude[0] * math.sin(2 * math.pi * blob.frequency[0] * t + blob.phase[0])
        ) * w
        cy = (
            blob.center[1]
            + blob.amplitude[1] * math.sin(2 * math.pi * blob.frequency[1] * t + blob.phase[1])
        ) * h
        radius = (
            blob.radius
            * self._short
            * (1.0 + blob.pulse * math.sin(2 * math.pi * 0.5 * t + blob.phase[0]))
        )
        reach = radius + 2 * EDGE
        x0, x1 = max(0, int(cx - reach)), min(w, int(cx + reach) + 1)
        y0, y1 = max(0, int(cy - reach)), min(h, int(cy + reach) + 1)
        if x0 >= x1 or y0 >= y1:
            return
        dx = self._xs[y0:y1, x0:x1] - cx
        dy = self._ys[y0:y1, x0:x1] - cy
        if blob.shape == "square":
            dist = np.maximum(np.abs(dx), np.abs(dy))
            alpha = (radius * 0.8 - dist) / EDGE
        else:
            dist = np.sqrt(dx * dx + dy * dy)
            if blob.shape == "ring":
                alpha = (radius * 0.14 - np.abs(dist - radius * 0.85)) / EDGE
            else:
                alpha = (radius - dist) / EDGE
        np.clip(alpha, 0.0, 1.0, out=alpha)
        alpha *= blob.opacity
        region = image[y0:y1, x0:x1]
        region += (np.array(blob.color, dtype=np.float32) - region) * alpha[..., None]
