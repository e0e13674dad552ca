"""Small valid files of every accepted format (and the awkward modes), made by code: the fuzz seeds."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image


def _pattern(width: int, height: int) -> Image.Image:
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 255 // width, y * 255 // height, (x ^ y) & 0xFF], axis=-1).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def seed_files() -> Iterator[tuple[str, bytes]]:
    rgb = _pattern(24, 16)
    exif = Image.Exif()
    exif[0x0112] = 6
    frames = [_pattern(12, 12).rotate(angle) for angle in (0, 90, 180)]
    yield "rgb.jpg", _encode(rgb, "JPEG", quality=80)
    yield "progressive.jpg", _encode(rgb, "JPEG", progressive=True, exif=exif.tobytes())
    yield "cmyk.jpg", _encode(rgb.convert("CMYK"), "JPEG")
    yield "rgb.png", _encode(rgb, "PNG")
    yield "rgba.png", _encode(rgb.convert("RGBA"), "PNG")
    yield "la.png", _encode(rgb.convert("LA"), "PNG")
    yield "p.png", _encode(rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=8), "PNG", transparency=0)
    yield "i16.png", _encode(Image.fromarray(np.arange(24 * 16, dtype=np.uint16).reshape(16, 24) * 170), "PNG")
    yield "rgb.webp", _encode(rgb, "WEBP", quality=50)
    yield "lossless.webp", _encode(rgb.convert("RGBA"), "WEBP", lossless=True)
    yield "animated.webp", _encode(frames[0], "WEBP", save_all=True, append_images=frames[1:])
    yield "rgb.gif", _encode(rgb, "GIF")
    yield "animated.gif", _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=20)
    yield "rgb.bmp", _encode(rgb, "BMP")
    yield "p.bmp", _encode(rgb.convert("P"), "BMP")


def write_seeds(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in seed_files():
        path = directory / name
        path.write_bytes(data)
        written.append(path)
    return written
