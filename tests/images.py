"""Test images made by code: a structured scene in any Pillow mode, encoded in memory."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def scene_rgb(width: int = 320, height: int = 240) -> Image.Image:
    """A deterministic picture with edges and colour so that orientation changes the pixels."""
    y, x = np.mgrid[0:height, 0:width]
    red = (x * 255 // max(width - 1, 1)).astype(np.uint8)
    green = (y * 255 // max(height - 1, 1)).astype(np.uint8)
    blue = np.where((x // 40 + y // 40) % 2 == 0, 230, 20).astype(np.uint8)
    pixels = np.stack([red, green, blue], axis=-1)
    pixels[: height // 4, : width // 3] = (250, 250, 0)
    return Image.fromarray(pixels, "RGB")


def encode(image: Image.Image, fmt: str = "PNG", **save_options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save_options)
    return buffer.getvalue()


def png_bytes(width: int = 320, height: int = 240) -> bytes:
    return encode(scene_rgb(width, height), "PNG")
