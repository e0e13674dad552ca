"""The Grad-CAM overlay: the photo with its heatmap blended over it and a colour bar, as a PNG.

Drawn with NumPy and Pillow, at the photo's own pixels. matplotlib drew it before (a Figure with a
constrained layout, `imshow` twice and a colour bar): 140 ms of a 269 ms page on one machine and 306 of
541 on another (bench/results.md, section 1's stages), the page's largest cost after the forward passes.
Here it takes a few milliseconds. The colours are matplotlib's "jet" table, read once; the labels use
the DejaVu Sans that matplotlib ships, as the bar chart does.
"""

from __future__ import annotations

import functools
import io
import threading
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

OVERLAY_COLORMAP = "jet"
OVERLAY_ALPHA = 0.45  # the heatmap's share of each pixel; the photo keeps the rest
# The overlay is shown at most this wide or high: drawing a 12-megapixel photo would only cost time.
OVERLAY_MAX_SIDE = 640
# zlib level 1: 8.7 ms and 103 kB for a 256-pixel thumbnail with its bar, against 25.7 ms and 92 kB at level 6.
PNG_COMPRESS_LEVEL = 1

BAR_GAP = 12  # between the photo and the colour bar
BAR_WIDTH = 18
BAR_MIN_HEIGHT = 160  # a panorama still gets a readable colour bar (white below the photo)
TICKS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
TICK_LENGTH = 4
FONT_SIZE = 12
BAR_LABEL = "Grad-CAM relevance"
MARGIN = 8
TEXT = (0, 0, 0)
BACKGROUND = (255, 255, 255)


def upsample_heatmap(heatmap: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The grid stretched bilinearly over an image of `size` (width, height), as the model saw it squashed."""
    grid = Image.fromarray(np.asarray(heatmap, dtype=np.float32), mode="F")
    return np.clip(np.asarray(grid.resize(size, Image.Resampling.BILINEAR)), 0.0, 1.0)


def render_overlay_png(photo: Image.Image, heatmap: np.ndarray) -> bytes:
    """The photo (at most OVERLAY_MAX_SIDE) with the heatmap over it, a colour bar to its right, as PNG bytes."""
    shown = photo.convert("RGB")
    shown.thumbnail((OVERLAY_MAX_SIDE, OVERLAY_MAX_SIDE), Image.Resampling.BILINEAR)
    blended = blend(np.asarray(shown), upsample_heatmap(heatmap, shown.size))
    bar = colour_bar(max(shown.height, BAR_MIN_HEIGHT))
    canvas = Image.new("RGB", (shown.width + BAR_GAP + bar.width, bar.height), BACKGROUND)
    canvas.paste(Image.fromarray(blended), (0, 0))
    canvas.paste(bar, (shown.width + BAR_GAP, 0))
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def blend(pixels: np.ndarray, relevance: np.ndarray) -> np.ndarray:
    """(h, w, 3) uint8 photo and (h, w) relevance 0..1 -> the photo with the colour of each relevance over it."""
    mixed = pixels.astype(np.float32) * (1.0 - OVERLAY_ALPHA) + colours_of(relevance) * OVERLAY_ALPHA
    return np.rint(mixed).astype(np.uint8)


def colours_of(relevance: np.ndarray) -> np.ndarray:
    """Each relevance (0..1) as its RGB colour (float32, 0..255): a trailing axis of 3."""
    return colour_table()[np.rint(relevance * 255.0).astype(np.uint8)]


@functools.cache
def colour_table() -> np.ndarray:
    """256 RGB colours (float32, 0..255) from relevance 0 to 1: matplotlib's OVERLAY_COLORMAP."""
    from matplotlib import colormaps  # the colour table only, no figure

    return (colormaps[OVERLAY_COLORMAP](np.linspace(0.0, 1.0, 256))[:, :3] * 255.0).astype(np.float32)


_DRAWING = threading.Lock()  # one FreeType face is shared: one thread draws text with it at a time


@functools.lru_cache(maxsize=32)
def colour_bar(height: int) -> Image.Image:
    """The colour bar for a photo `height` pixels high: relevance 1 at the top, ticks, labels, and its title
    turned on its side. The last few heights are kept (most photos are 4:3 or 3:4 at OVERLAY_MAX_SIDE)."""
    with _DRAWING:
        return _draw_colour_bar(height)


def _draw_colour_bar(height: int) -> Image.Image:
    font = _font()
    tick_width = max(int(font.getlength(f"{tick:.1f}")) for tick in TICKS)
    title = _vertical_text(BAR_LABEL, font)
    width = BAR_WIDTH + TICK_LENGTH + 3 + tick_width + MARGIN + title.width + MARGIN
    bar = Image.new("RGB", (width, height), BACKGROUND)
    top, bottom = MARGIN, height - MARGIN  # room for the end labels' halves
    strip = colours_of(np.linspace(1.0, 0.0, bottom - top))
    bar.paste(Image.fromarray(np.repeat(strip[:, np.newaxis], BAR_WIDTH, axis=1).astype(np.uint8)), (0, top))
    draw = ImageDraw.Draw(bar)
    draw.rectangle((0, top, BAR_WIDTH - 1, bottom - 1), outline=TEXT)
    for tick in TICKS:
        y = round(bottom - 1 - tick * (bottom - top - 1))
        draw.line((BAR_WIDTH, y, BAR_WIDTH + TICK_LENGTH - 1, y), fill=TEXT)
        draw.text((BAR_WIDTH + TICK_LENGTH + 3, y), f"{tick:.1f}", fill=TEXT, font=font, anchor="lm")
    bar.paste(title, (width - MARGIN - title.width, max(0, (height - title.height) // 2)))
    return bar


def _vertical_text(text: str, font: ImageFont.FreeTypeFont) -> Image.Image:
    left, top, right, bottom = font.getbbox(text)
    label = Image.new("RGB", (int(right - left) + 2, int(bottom - top) + 2), BACKGROUND)
    ImageDraw.Draw(label).text((1 - left, 1 - top), text, fill=TEXT, font=font)
    return label.transpose(Image.Transpose.ROTATE_90)


@functools.cache
def _font() -> ImageFont.FreeTypeFont:
    import matplotlib  # it ships the font (mpl-data), as it does for the bar chart

    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"), FONT_SIZE)
