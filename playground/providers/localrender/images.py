"""Input images: loaded with Pillow, fitted to the frame, turned into sources."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import av
import numpy as np
from PIL import ExifTags, Image, ImageDraw, ImageOps, UnidentifiedImageError

from .errors import RenderError
from .yuv import Converter, planes

# Decompression bombs and memory: anything above this many pixels is refused
# instead of decoded (a 24 Mpx camera photo is 6000x4000). JPEGs are decoded
# straight at the size the frame needs (DCT scaling), other formats are
# reduced right after decoding, so a large input costs memory only briefly.
MAX_IMAGE_PIXELS = 25_000_000
_FORMATS = ("JPEG", "PNG", "WEBP")


# EXIF orientation -> the transpose that shows the picture upright.
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _stored_size_needed(
    image: Image.Image, orientation: int, width: int, height: int
) -> tuple[int, int]:
    """The smallest size of the stored image that still covers a width x height
    frame unscaled once it is turned upright."""
    swapped = orientation in (5, 6, 7, 8)
    shown_w, shown_h = (image.height, image.width) if swapped else (image.width, image.height)
    scale = max(width / shown_w, height / shown_h)
    need = (max(1, math.ceil(shown_w * scale)), max(1, math.ceil(shown_h * scale)))
    return (need[1], need[0]) if swapped else need


def load_image(path: Path, role: str, width: int, height: int) -> Image.Image:
    """An RGB image from a local JPEG, PNG or WebP file, EXIF rotation applied,
    no larger than needed to cover a width x height frame (give or take 2x)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=_FORMATS) as opened:
                if opened.width * opened.height > MAX_IMAGE_PIXELS:
                    raise RenderError(
                        f"The {role} is too large ({opened.width}x{opened.height} pixels); "
                        f"the limit is {MAX_IMAGE_PIXELS // 1_000_000} megapixels."
                    )
                orientation = opened.getexif().get(ExifTags.Base.Orientation, 1)
                need_w, need_h = _stored_size_needed(opened, orientation, width, height)
                opened.draft("RGB", (need_w, need_h))
                opened.load()
                # Each step below copies the picture, so it only runs when it
                # changes something: a large PNG must not exist three times over.
                image: Image.Image = opened
                factor = min(image.width // need_w, image.height // need_h)
                if factor >= 2:
                    if image.mode not in ("RGB", "RGBA", "L", "LA"):
                        image = _flatten(image)
                    image = image.reduce(factor)
                if orientation in _UPRIGHT:
                    image = image.transpose(_UPRIGHT[orientation])
                # Leaving the with block closes the file; the loaded pixels stay.
                return _flatten(image)
    except RenderError:
        raise
    except FileNotFoundError:
        raise RenderError(f"The {role} file does not exist.") from None
    except (
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise RenderError(
            f"The {role} could not be read as a JPEG, PNG or WebP image ({_reason(exc, path)})."
        ) from None


def _flatten(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # Transparent areas become black, as a video player would show them.
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (0, 0, 0))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image if image.mode == "RGB" else image.convert("RGB")


def _reason(exc: BaseException, path: Path) -> str:
    """Pillow's words for the problem, without the file's full path."""
    if isinstance(exc, UnidentifiedImageError):
        return "not an image in one of those formats"
    text = (str(exc).strip() or type(exc).__name__).replace(str(path), Path(path).name)
    return text[:160]


def cover(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scale and centre-crop so the image fills width x height."""
    return ImageOps.fit(image, (width, height), method=Image.Resampling.BICUBIC)


def contain(image: Image.Image, max_width: int, max_height: int) -> Image.Image:
    scale = min(max_width / image.width, max_height / image.height)
    size = (max(2, round(image.width * scale)), max(2, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BICUBIC)


class ZoomSource:
    """The start image as the picture: frame 0 shows it exactly (fitted to the
    frame), then a slow zoom towards a prompt-chosen point.

    The image is kept at output size; each frame crops a shrinking window and
    lets swscale scale it back to full size, so no full-size numpy work is done.
    """

    def __init__(
        self,
        image: Image.Image,
        width: int,
        height: int,
        focus: tuple[float, float],
        amount: float,
        duration: float,
    ) -> None:
        self.width, self.height = width, height
        self._rgb = np.asarray(cover(image, width, height))
        self._focus = focus
        self._amount = amount
        self._duration = max(duration, 1e-6)
        self._converter = Converter()

    def frame(self, t: float) -> av.VideoFrame:
        progress = min(max(t / self._duration, 0.0), 1.0)
        # Ease in and out so the motion starts and ends gently.
        eased = 0.5 - 0.5 * math.cos(math.pi * progress)
        zoom = 1.0 + self._amount * eased
        cw = min(self.width, max(2, round(self.width / zoom)))
        ch = min(self.height, max(2, round(self.height / zoom)))
        x = round((self.width - cw) * self._focus[0])
        y = round((self.height - ch) * self._focus[1])
        window = self._rgb[y : y + ch, x : x + cw]
        return self._converter.rgb_to_yuv420p(window, self.width, self.height)


def yuv_planes(image: Image.Image, width: int, height: int) -> tuple[np.ndarray, ...]:
    """The image covering the frame, as yuv420p planes (for the end cross-fade)."""
    rgb = np.asarray(cover(image, width, height))
    frame = Converter().rgb_to_yuv420p(rgb, width, height)
    return tuple(p.copy() for p in planes(frame))


def card(image: Image.Image, width: int, height: int) -> np.ndarray:
    """The start image as a "character" card for motion mode: fitted inside
    width x height, rounded corners and a white border, as RGBA."""
    inner = contain(image, width, height)
    w, h = inner.size
    border = max(2, min(w, h) // 40)
    out = Image.new("RGBA", (w + 2 * border, h + 2 * border), (0, 0, 0, 0))
    radius = max(3, min(w, h) // 12)
    mask = Image.new("L", out.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle(
        (0, 0, out.width - 1, out.height - 1), radius=radius, fill=255
    )
    out.paste((255, 255, 255, 255), (0, 0), mask)
    inner_mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(inner_mask).rounded_rectangle(
        (0, 0, w - 1, h - 1), radius=max(2, radius - border), fill=255
    )
    out.paste(inner, (border, border), inner_mask)
    return np.asarray(out)
