"""How large an image may be once decoded: pixels per frame and frames.

A file's size says little about its pixels: a 100 KB PNG may declare
30000x30000 pixels of one colour, which decode to 2.7 GB of RGB (a
decompression bomb). So images are measured from their headers before
anything decodes them: uploads when they arrive (playground/uploads.py) and
image inputs when they are brought to disk for rendering
(playground/inputs.py). Pillow reads only the header to tell the size and
the frame count (PNG's IHDR and acTL chunks, WebP's VP8X and ANIM, JPEG's
SOF marker); no pixel is decoded here.

Pillow refuses on its own to open anything over twice Image.MAX_IMAGE_PIXELS
(about 179 megapixels by default), which is reported the same way.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

FORMATS = ("JPEG", "PNG", "WEBP")


class ImageTooLarge(ValueError):
    """The image would decode past a limit; the message says which, for a person."""


def check(path: Path, *, max_pixels: int, max_frames: int) -> tuple[int, int, int]:
    """(width, height, frames) of the JPEG, PNG or WebP image at `path`.

    Raises ImageTooLarge past `max_pixels` per frame or `max_frames` frames,
    and ValueError when Pillow cannot read the header as one of those formats.
    """
    limit = f"images may be at most {max_pixels / 1_000_000:g} megapixels"
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; the
            # limit below decides, so its warning is noise here.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path, formats=FORMATS) as image:
                width, height = image.size
                frames = getattr(image, "n_frames", 1)
    except Image.DecompressionBombError:
        raise ImageTooLarge(f"The image is too large to open; {limit}.") from None
    except UnidentifiedImageError:
        raise ValueError("The file is not a JPEG, PNG or WebP image Pillow can read.") from None
    except (OSError, SyntaxError) as exc:
        raise ValueError(f"The image header could not be read ({exc}).") from None
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"The image is too large: {width}x{height} pixels "
            f"({width * height / 1_000_000:.0f} megapixels); {limit}."
        )
    if frames > max_frames:
        raise ImageTooLarge(
            f"The image has too many frames: {frames}; images may have at most {max_frames}."
        )
    return width, height, frames
