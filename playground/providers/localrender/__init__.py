"""The embedded local renderer: real H.264 MP4 previews, no network, no GPU.

Pure drawing and encoding (no Django). The prompt and seed decide the picture
and the tones; the output is labelled on every frame as a local preview, not
AI output.

    from playground.providers.localrender import RenderRequest, frame_size, render

    width, height = frame_size("16:9", "720p")
    result = render(RenderRequest(width, height, 5.0, "a red fox at dawn"), out_dir)
"""

from .errors import RenderError
from .render import POSTER_NAME, VIDEO_NAME, render
from .request import DEFAULT_LABEL, RenderRequest, RenderResult
from .sizes import frame_size

__all__ = [
    "DEFAULT_LABEL",
    "POSTER_NAME",
    "RenderError",
    "RenderRequest",
    "RenderResult",
    "VIDEO_NAME",
    "frame_size",
    "render",
]
