"""The two text layers: the "local preview" mark and the prompt caption.

Both are drawn once per render with Pillow at the output resolution (text
scaled up from a small canvas would be unreadable) and then blended into
every frame.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

# Fonts with wide Unicode coverage on common systems; Pillow's own font is the
# fallback everywhere else.
_FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
    "/usr/share/fonts/TTF",
    "/usr/local/share/fonts",
    "/Library/Fonts",
    "/System/Library/Fonts/Supplemental",
    "C:/Windows/Fonts",
)
_FONT_FILES = {
    False: ("DejaVuSans.ttf", "Arial.ttf", "arial.ttf"),
    True: ("DejaVuSans-Bold.ttf", "Arial Bold.ttf", "arialbd.ttf"),
}

# Chinese, Japanese and Korean prompts need a font that has those glyphs; the
# first one found is used for the whole caption (Pillow has no per-glyph
# fallback). Without one they show as boxes, which is still a valid preview.
_CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)
_CJK_RANGES = ((0x2E80, 0x9FFF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF), (0xFF00, 0xFFEF))

MAX_PROMPT_CHARS = 400
ELLIPSIS = "…"
_SPACES = re.compile(r"\s+")


def _is_cjk(text: str) -> bool:
    return any(lo <= ord(ch) <= hi for ch in text for lo, hi in _CJK_RANGES)


@functools.lru_cache(maxsize=32)
def font(size: int, bold: bool = False, cjk: bool = False) -> Font:
    if cjk:
        for path in _CJK_FONTS:
            if Path(path).is_file():
                try:
                    return ImageFont.truetype(path, size)
                except OSError:
                    continue
    for directory in _FONT_DIRS:
        for name in _FONT_FILES[bold]:
            path = Path(directory) / name
            if path.is_file():
                try:
                    return ImageFont.truetype(str(path), size)
                except OSError:
                    continue
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: fixed-size bitmap font
        return ImageFont.load_default()


def clean_prompt(prompt: str) -> str:
    """One line of printable text: control characters and runs of spaces go."""
    text = "".join(
        " " if unicodedata.category(ch).startswith(("C", "Z")) else ch for ch in prompt or ""
    )
    text = _SPACES.sub(" ", text).strip()
    if len(text) > MAX_PROMPT_CHARS:
        text = text[:MAX_PROMPT_CHARS].rstrip() + ELLIPSIS
    return text


def _width(text: str, face: Font) -> float:
    return face.getlength(text)


def _truncate(text: str, face: Font, max_width: float) -> str:
    """text with an ellipsis at the end, shortened until it fits max_width."""
    text = text.rstrip()
    while text and _width(text + ELLIPSIS, face) > max_width:
        text = text[:-1].rstrip()
    return text + ELLIPSIS


def _split_word(word: str, face: Font, max_width: float) -> list[str]:
    """A word longer than a line, cut into pieces that each fit."""
    pieces = []
    while len(word) > 1 and _width(word, face) > max_width:
        cut = len(word) - 1
        while cut > 1 and _width(word[:cut], face) > max_width:
            cut -= 1
        pieces.append(word[:cut])
        word = word[cut:]
    return [*pieces, word]


def wrap(text: str, face: Font, max_width: float, max_lines: int) -> list[str]:
    """Greedy word wrap into at most max_lines; if text does not fit, the last
    line ends with an ellipsis."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        for piece in _split_word(word, face, max_width):
            candidate = f"{current} {piece}" if current else piece
            if current and _width(candidate, face) > max_width:
                lines.append(current)
                current = piece
            else:
                current = candidate
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = _truncate(lines[-1], face, max_width)
    return lines


def _line_height(face: Font) -> int:
    left, top, right, bottom = face.getbbox("Ágjy|")
    return int(bottom - top)


def _badge(lines: list[str], face: Font, pad: int, fill: tuple[int, int, int, int]) -> np.ndarray:
    line_h = _line_height(face)
    gap = max(1, line_h // 4)
    text_w = max(int(np.ceil(_width(line, face))) for line in lines)
    w = text_w + 2 * pad
    h = len(lines) * line_h + (len(lines) - 1) * gap + 2 * pad
    image = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, w - 1, h - 1), radius=max(2, pad), fill=fill)
    top_offset = face.getbbox("Ágjy|")[1]
    for n, line in enumerate(lines):
        x = (w - _width(line, face)) / 2
        y = pad + n * (line_h + gap) - top_offset
        draw.text((x, y), line, font=face, fill=(255, 255, 255, 255))
    return np.asarray(image)


def label_layer(label: str, width: int, height: int) -> tuple[np.ndarray, int, int] | None:
    """The preview mark: a red badge in the top-left corner, always on screen."""
    label = clean_prompt(label)
    if not label:
        return None
    short = min(width, height)
    margin = max(4, short // 36)
    size = max(9, short // 24)
    face = font(size, bold=True)
    pad = max(3, size // 2)
    # Shrink until the whole mark fits: a portrait frame is narrow.
    while size > 8 and _width(label, face) + 2 * pad > width - 2 * margin:
        size -= 1
        face = font(size, bold=True)
        pad = max(3, size // 2)
    if _width(label, face) > width - 2 * margin - 2 * pad:
        label = _truncate(label, face, width - 2 * margin - 2 * pad)
    rgba = _badge([label], face, pad, (200, 24, 48, 225))
    return rgba, margin, margin


def caption_layer(prompt: str, width: int, height: int) -> tuple[np.ndarray, int, int] | None:
    """The prompt, wrapped and centred on a dark box near the bottom edge."""
    text = clean_prompt(prompt)
    if not text:
        return None
    short = min(width, height)
    margin = max(4, short // 30)
    size = max(9, short // 22)
    face = font(size, cjk=_is_cjk(text))
    pad = max(3, size // 2)
    max_lines = 3 if height > width else 2
    lines = wrap(text, face, width - 2 * margin - 2 * pad, max_lines)
    rgba = _badge(lines, face, pad, (0, 0, 0, 150))
    h, w = rgba.shape[:2]
    return rgba, (width - w) // 2, height - margin - h
