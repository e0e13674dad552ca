"""The hostile corpus: every input the issue lists, made by code, with the answer it must get.

A table of `HostileCase`s that any door can be driven with: the page (POST /), the CLI
(`manage.py classify`) and, by adding its URL to HTTP_CLASSIFY_URLS, the JSON API. Each case says
the status (200 = classified normally) and a fragment of the message a user must see.
"""

from __future__ import annotations

import html
import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.test import Client
from PIL import Image

from tests.images import encode, png_bytes, scene_rgb

# The doors an upload can come through over HTTP; the API joins with one line.
HTTP_CLASSIFY_URLS = ["/", "/api/v1/classify"]

ACCEPTED = "Expected an image in one of JPEG, PNG, WebP, GIF or BMP"
CORRUPT = "Expected a complete JPEG, PNG, WebP, GIF or BMP file"


@dataclass(frozen=True)
class UploadFile:
    name: str
    data: bytes
    content_type: str = "image/png"


@dataclass(frozen=True)
class HostileCase:
    name: str
    files: Callable[[], list[UploadFile]]
    status: int
    message: str = ""
    http_only: bool = False  # about the request itself (names, several files, body size), not the bytes

    def __str__(self) -> str:
        return self.name


def one(data: Callable[[], bytes], name: str = "upload.png", content_type: str = "image/png"):  # noqa: ANN201
    return lambda: [UploadFile(name, data(), content_type)]


# --- builders -------------------------------------------------------------------------------------


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def header_only_png(width: int, height: int) -> bytes:
    """A valid PNG signature and IHDR declaring width x height, and no pixel data at all."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IEND", b"")


def png_with_bad_crc(chunk: bytes) -> bytes:
    data = bytearray(png_bytes())
    start = data.index(chunk) - 4
    length = int.from_bytes(data[start : start + 4], "big")
    data[start + 8 + length] ^= 0xFF  # first byte of the chunk's CRC
    return bytes(data)


def gif_bomb(frame_side: int = 30000) -> bytes:
    """Pillow's bomb GIF: a 10x10 logical screen whose one frame declares frame_side^2 pixels."""
    header = b"GIF89a" + struct.pack("<HH", 10, 10) + bytes([0x80, 0, 0]) + b"\0\0\0\xff\xff\xff"
    frame = b"," + struct.pack("<HHHH", 0, 0, frame_side, frame_side) + b"\0"
    return header + frame + b"\x02\x02\x44\x01\x00;"


def animated_gif(frames: int = 500, side: int = 24) -> bytes:
    rng = np.random.default_rng(5)
    images = [Image.fromarray(rng.integers(0, 255, (side, side), dtype=np.uint8), "L") for _ in range(frames)]
    return encode(images[0], "GIF", save_all=True, append_images=images[1:], duration=10)


def animated_webp(frames: int = 30) -> bytes:
    images = [scene_rgb(96, 64).rotate(angle * 12) for angle in range(frames)]
    return encode(images[0], "WEBP", save_all=True, append_images=images[1:], duration=10)


def sixteen_bit_png() -> bytes:
    ramp = np.linspace(0, 65535, 240 * 320).reshape(240, 320).astype(np.uint16)
    return encode(Image.fromarray(ramp), "PNG")


def palette_with_transparency() -> bytes:
    return encode(scene_rgb().convert("P", palette=Image.Palette.ADAPTIVE, colors=16), "PNG", transparency=0)


# Pillow's exif_transpose applies these to the stored pixels; storing the inverse makes the
# displayed (upright) image equal scene_rgb() for every orientation.
STORE_FOR_ORIENTATION: dict[int, Image.Transpose | None] = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def oriented_png(orientation: int) -> bytes:
    stored = scene_rgb()
    transpose = STORE_FOR_ORIENTATION[orientation]
    if transpose is not None:
        stored = stored.transpose(transpose)
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(stored, "PNG", exif=exif.tobytes())


def png_with_oversized_exif(exif_bytes: int = 200_000) -> bytes:
    exif = Image.Exif()
    exif[0x010E] = "x" * exif_bytes  # ImageDescription
    return encode(scene_rgb(), "PNG", exif=exif.tobytes())


def over_the_cap(extra_bytes: int) -> Callable[[], list[UploadFile]]:
    return lambda: [UploadFile("big.png", b"\x89PNG" + b"\0" * (settings.IMGREC_MAX_UPLOAD_BYTES + extra_bytes))]


def jpeg_cut_at_half() -> bytes:
    data = encode(scene_rgb(), "JPEG")
    return data[: len(data) // 2]


def zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("cat.jpg", encode(scene_rgb(), "JPEG"))
    return buffer.getvalue()


def svg_document() -> bytes:
    return b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>'


# --- the corpus -----------------------------------------------------------------------------------

TOO_MANY_PIXELS = "Expected at most 40,000,000 pixels"
TOO_LARGE_UPLOAD = "Expected an upload of at most 1 MB"

HOSTILE_CORPUS: list[HostileCase] = [
    HostileCase("zero bytes", one(lambda: b""), 400, "Received an empty file (0 bytes)"),
    HostileCase(
        "text renamed .jpg",
        one(lambda: b"hello, I am text", "cat.jpg", "image/jpeg"),
        415,
        f"{ACCEPTED}. Received a text file (16 bytes)",
    ),
    HostileCase(
        "HTML sent as image/jpeg",
        one(lambda: b"<!DOCTYPE html><html><script>alert(1)</script></html>", "x.jpg", "image/jpeg"),
        415,
        "Received an HTML document",
    ),
    HostileCase("SVG with a script", one(svg_document, "x.svg", "image/svg+xml"), 415, "Received an SVG document"),
    HostileCase("TIFF", one(lambda: encode(scene_rgb(), "TIFF"), "x.tif", "image/tiff"), 415, "Received a TIFF image"),
    HostileCase("ICO", one(lambda: encode(scene_rgb(64, 64), "ICO"), "x.ico", "image/x-icon"), 415, "an ICO icon"),
    HostileCase(
        "PDF", one(lambda: b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "x.pdf", "application/pdf"), 415, "Received a PDF document"
    ),
    HostileCase("JSON", one(lambda: b'{"image": "cat.jpg"}', "x.json", "application/json"), 415, "a JSON document"),
    HostileCase("ZIP", one(zip_archive, "photos.zip", "application/zip"), 415, "Received a ZIP archive"),
    HostileCase("ELF executable", one(lambda: b"\x7fELF\x02\x01\x01" + bytes(57), "x.png"), 415, "an ELF executable"),
    HostileCase("HEIC", one(lambda: b"\x00\x00\x00\x18ftypheic" + bytes(12), "x.heic", "image/heic"), 415, "a HEIC"),
    HostileCase("bytes of no known kind", one(lambda: bytes(range(256)) * 3), 415, "768 bytes of an unrecognised kind"),
    HostileCase("JPEG cut at half", one(jpeg_cut_at_half, "cut.jpg", "image/jpeg"), 400, "truncated or corrupt"),
    HostileCase("PNG with a bad IHDR CRC", one(lambda: png_with_bad_crc(b"IHDR")), 400, "Received a PNG file whose"),
    # zlib's own checksum still vouches for the pixels, and Pillow does not check IDAT CRCs.
    HostileCase("PNG with a bad IDAT CRC, intact zlib stream", one(lambda: png_with_bad_crc(b"IDAT")), 200),
    HostileCase("1x1 pixel", one(lambda: png_bytes(1, 1)), 200),
    HostileCase("20000x20000 header-only PNG", one(lambda: header_only_png(20000, 20000)), 413, TOO_MANY_PIXELS),
    HostileCase("8000x8000 header-only PNG", one(lambda: header_only_png(8000, 8000)), 413, "Received 8000x8000"),
    HostileCase("bomb GIF (10x10 screen, 30000x30000 frame)", one(gif_bomb, "bomb.gif"), 413, TOO_MANY_PIXELS),
    HostileCase("CMYK JPEG", one(lambda: encode(scene_rgb().convert("CMYK"), "JPEG"), "c.jpg", "image/jpeg"), 200),
    HostileCase("16-bit grey PNG", one(sixteen_bit_png), 200),
    HostileCase("LA PNG", one(lambda: encode(scene_rgb().convert("LA"), "PNG")), 200),
    HostileCase("P with transparency", one(palette_with_transparency), 200),
    HostileCase("RGBA PNG", one(lambda: encode(scene_rgb().convert("RGBA"), "PNG")), 200),
    HostileCase("500-frame GIF", one(animated_gif, "anim.gif", "image/gif"), 200),
    HostileCase("30-frame animated WebP", one(animated_webp, "anim.webp", "image/webp"), 200),
    *[HostileCase(f"EXIF orientation {n}", one(lambda n=n: oriented_png(n)), 200) for n in range(1, 9)],
    HostileCase(
        "oversized EXIF block (200 KB)", one(png_with_oversized_exif), 400, "Expected EXIF metadata of at most"
    ),
    HostileCase("file name with ../", one(png_bytes, "../../../etc/passwd.png"), 200, http_only=True),
    HostileCase("file name with NUL", one(png_bytes, "evil\x00.png"), 200, http_only=True),
    HostileCase("file name of 300 characters", one(png_bytes, "n" * 296 + ".png"), 200, http_only=True),
    HostileCase(
        "two files in one request",
        lambda: [UploadFile("a.png", png_bytes()), UploadFile("b.png", png_bytes())],
        400,
        "Expected one image file per request",
        http_only=True,
    ),
    HostileCase("body 1 MB over the cap", over_the_cap(1024 * 1024), 413, TOO_LARGE_UPLOAD, http_only=True),
    # Within the multipart envelope allowance: refused by the upload handler while it streams.
    HostileCase("file 16 KB over the cap", over_the_cap(16 * 1024), 413, TOO_LARGE_UPLOAD, http_only=True),
]

BYTES_CORPUS = [case for case in HOSTILE_CORPUS if not case.http_only]


# --- driving a door -------------------------------------------------------------------------------


def post_case(client: Client, url: str, case: HostileCase, *, model: str = "resnet50") -> HttpResponse:
    uploads = [SimpleUploadedFile(f.name, f.data, content_type=f.content_type) for f in case.files()]
    # The page answers a classified upload with 303 to its permalink; following it shows what a user sees.
    return client.post(url, {"model": model, "image": uploads if len(uploads) > 1 else uploads[0]}, follow=True)


def response_message(response: HttpResponse) -> str:
    """The text a user reads: the JSON error, or the page with HTML entities decoded."""
    if response["Content-Type"].startswith("application/json"):
        return response.json().get("error", "")
    return html.unescape(response.content.decode())


def good_upload() -> HostileCase:
    return HostileCase("good PNG", one(lambda: encode(scene_rgb(), "PNG")), 200)
