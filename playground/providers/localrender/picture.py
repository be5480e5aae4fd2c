"""Composing one output frame: base picture, end cross-fade, character, text.

The base picture is a fresh yuv420p frame at the output size from one of
three sources (the prompt's scene, the zooming start image, the motion video);
everything after that is blended into its planes in place, each layer only
over its own box.
"""

from __future__ import annotations

import av
import numpy as np
from PIL import Image

from .images import ZoomSource, card, yuv_planes
from .layers import Layer, crossfade
from .motion import MotionSource, MotionTracker
from .request import RenderRequest
from .scene import Scene
from .style import Style
from .text import caption_layer, label_layer
from .yuv import Converter

CROSSFADE_SECONDS = 1.0
CHARACTER_SIZE = 0.45  # of the frame's short side, in motion mode


class SceneSource:
    def __init__(self, style: Style, width: int, height: int) -> None:
        self._scene = Scene(style, width, height)
        self._converter = Converter()
        self.width, self.height = width, height

    def frame(self, t: float) -> av.VideoFrame:
        return self._converter.rgb_to_yuv420p(self._scene.draw(t), self.width, self.height)


def character_layer(style: Style, side: int, start: Image.Image | None) -> Layer:
    """What the motion video moves: the start image as a card, else a disc in
    the prompt's accent colour."""
    if start is not None:
        return Layer(card(start, side, side))
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32)
    dist = np.hypot(xs - side / 2, ys - side / 2)
    alpha = np.clip((side * 0.42 - dist) / 2.0, 0.0, 1.0)
    rgba = np.zeros((side, side, 4), dtype=np.uint8)
    rgba[..., :3] = np.array(style.accent) * 255
    rgba[..., 3] = (alpha * 235).astype(np.uint8)
    return Layer(rgba)


class Picture:
    def __init__(
        self,
        request: RenderRequest,
        style: Style,
        start: Image.Image | None,
        end: Image.Image | None,
        motion: MotionSource | None,
    ) -> None:
        self.width, self.height, self.fps = request.width, request.height, request.fps
        self.total = request.frame_count
        duration = self.total / self.fps
        self._tracker: MotionTracker | None = None
        self._character: Layer | None = None
        self._source: MotionSource | ZoomSource | SceneSource
        if motion is not None:
            self._source = motion
            self._tracker = MotionTracker(self.width, self.height)
            side = max(16, int(min(self.width, self.height) * CHARACTER_SIZE))
            self._character = character_layer(style, side, start)
        elif start is not None:
            self._source = ZoomSource(
                start, self.width, self.height, style.zoom_focus, style.zoom_amount, duration
            )
        else:
            self._source = SceneSource(style, self.width, self.height)
        self._end = yuv_planes(end, self.width, self.height) if end is not None else None
        self._fade_frames = min(
            max(1, round(CROSSFADE_SECONDS * self.fps)), max(1, self.total // 2)
        )
        self._text: list[tuple[Layer, int, int]] = []
        for made in (
            caption_layer(request.prompt or "", self.width, self.height),
            label_layer(request.label, self.width, self.height),
        ):
            if made is not None:
                rgba, x, y = made
                self._text.append((Layer(rgba), x, y))

    def frame(self, index: int) -> av.VideoFrame:
        frame = self._source.frame(index / self.fps)
        if self._character is not None:
            self._place_character(frame)
        if self._end is not None:
            # Over the last fade_frames frames the weight rises to exactly 256,
            # so the last frame is the end image (character and all faded out).
            step = index - (self.total - self._fade_frames)
            if step >= 0:
                crossfade(frame, self._end, round(256 * (step + 1) / self._fade_frames))
        # The text goes on last, so nothing ever covers the preview mark.
        for layer, x, y in self._text:
            layer.blend(frame, x, y)
        return frame

    def _place_character(self, frame: av.VideoFrame) -> None:
        assert self._character is not None and self._tracker is not None
        layer = self._character
        # Tracked on the motion video's own frame, before anything is drawn on it.
        cx, cy = self._tracker.update(frame)
        x = round(cx * self.width - layer.width / 2)
        y = round(cy * self.height - layer.height / 2)
        x = min(max(x, 0), self.width - layer.width)
        y = min(max(y, 0), self.height - layer.height)
        layer.blend(frame, x, y)
