"""Safe decoding of untrusted image bytes, and resizing for a model.

Every failure of the decoder becomes a RecognizerError here, so callers never see Pillow's
exceptions: the format is decided by decoding (never by name or Content-Type), the pixel count
is checked before any pixel is allocated, and truncated files are refused. Only the first frame
of an animation is ever decoded, and an EXIF block larger than a JPEG can carry is refused before
it is parsed.
"""

from __future__ import annotations

import io
import math
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from recognizer.inference.errors import ImageTooLarge, InvalidInput, UnsupportedImage
from recognizer.inference.sniffing import describe_bytes

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
ACCEPTED_DESCRIPTION = "JPEG, PNG, WebP, GIF or BMP"
THUMBNAIL_SIDE = 256
THUMBNAIL_MIN_FRACTION = 0.75  # a whole-factor box shrink may leave a thumbnail this much of THUMBNAIL_SIDE
# The most EXIF one JPEG APP1 segment can hold; PNG and WebP could carry far more.
MAX_EXIF_BYTES = 64 * 1024
REDUCING_GAP = 3.0
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

ImageFile.LOAD_TRUNCATED_IMAGES = False

_DECODER_FAILURES = (OSError, SyntaxError, ValueError, IndexError, struct.error, EOFError, MemoryError)
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
_MODES_WITH_ALPHA = ("RGBA", "LA", "PA", "RGBa", "La")


def decoded_pixel_count(data: bytes, *, max_pixels: int, target_size: int | None = None) -> int:
    """How many pixels `decode_image` will allocate for `data`, from the header alone (no pixel decoded).

    The pixel limit is checked first, and a JPEG's draft scale is applied, so the count is what is
    really decoded. Raises the same errors as `decode_image` for a header that cannot be read.
    """
    with _decoder_errors(data, max_pixels):
        image = _open_header(data, max_pixels, target_size)
        width, height = image.size
        return width * height


def decode_image(data: bytes, *, max_pixels: int, target_size: int | None = None) -> Image.Image:
    """Decode the first frame of an allowed image, upright (EXIF orientation applied), as RGB.

    With `target_size`, a large JPEG is decoded at the smallest of its DCT scales (1/2, 1/4, 1/8)
    that still has both sides at least `target_size`: the pixels a model never sees are not decoded.
    No full-size copy is made beyond the decoded image and, for other modes than RGB, its RGB
    conversion (docs/operations.md, "Memory").

    The one place where decoder failures are caught: whatever the bytes, the caller sees an image
    or a RecognizerError (400 corrupt, 413 too many pixels, 415 not an accepted format).
    """
    with _decoder_errors(data, max_pixels):
        image = _open_header(data, max_pixels, target_size)
        image.load()
        _check_exif_size(image)  # a PNG may carry its eXIf chunk after the pixels
        ImageOps.exif_transpose(image, in_place=True)
        return to_rgb(image)
    raise AssertionError("unreachable: _decoder_errors re-raises every failure")


def _open_header(data: bytes, max_pixels: int, target_size: int | None) -> Image.Image:
    if not data:
        raise InvalidInput(f"Expected an image file ({ACCEPTED_DESCRIPTION}). Received an empty file (0 bytes)")
    image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    _check_pixel_count(image, max_pixels)
    _check_exif_size(image)
    if target_size is not None and image.format == "JPEG":
        image.draft(None, (target_size, target_size))
    return image


@contextmanager
def _decoder_errors(data: bytes, max_pixels: int) -> Iterator[None]:
    """Pillow's failures -> InvalidInput (400), ImageTooLarge (413) or UnsupportedImage (415)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except UnidentifiedImageError:
        claimed = _allowed_format_by_signature(data)
        if claimed:
            raise InvalidInput(
                f"Expected a complete {ACCEPTED_DESCRIPTION} file. Received a {claimed} file whose header "
                "could not be decoded (corrupt)"
            ) from None
        raise UnsupportedImage(
            f"Expected an image in one of {ACCEPTED_DESCRIPTION}. Received {describe_bytes(data)}"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageTooLarge(
            f"Expected at most {_pixel_limit(max_pixels):,} pixels. Received a decompression bomb: {error}"
        ) from None
    except _DECODER_FAILURES as error:
        raise InvalidInput(
            f"Expected a complete {ACCEPTED_DESCRIPTION} file. Received one that could not be decoded "
            f"(truncated or corrupt: {error})"
        ) from None


def _pixel_limit(max_pixels: int) -> int:
    """`max_pixels`, and never more than Pillow's own bomb threshold."""
    return min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)


def _check_pixel_count(image: Image.Image, max_pixels: int) -> None:
    """Refuse more pixels than `_pixel_limit` allows.

    Pillow's threshold is checked here too, not only through the warnings filter set around the
    decode: `warnings.catch_warnings` swaps one process-wide filter list, so two threads decoding at
    once can restore each other's filters, and a request could run without the "error" filter.
    """
    limit = _pixel_limit(max_pixels)
    width, height = image.size
    if width * height > limit:
        raise ImageTooLarge(f"Expected at most {limit:,} pixels. Received {width}x{height} = {width * height:,} pixels")


def _check_exif_size(image: Image.Image) -> None:
    exif = image.info.get("exif", b"")
    if len(exif) > MAX_EXIF_BYTES:
        raise InvalidInput(
            f"Expected EXIF metadata of at most {MAX_EXIF_BYTES // 1024} KB. "
            f"Received {len(exif) / 1024:,.0f} KB of EXIF"
        )


_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)


def _allowed_format_by_signature(data: bytes) -> str | None:
    """Which accepted format the first bytes claim (only to word the error; decoding decides)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return next((name for signature, name in _SIGNATURES if data.startswith(signature)), None)


def looks_like_accepted_image(head: bytes) -> bool:
    """Do these first bytes (16 are enough) start an accepted format? For picking images out of a folder."""
    return _allowed_format_by_signature(head) is not None or head.startswith(b"BM")  # BMP: too short to word errors by


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB; transparency is composited onto white."""
    if image.mode in _SIXTEEN_BIT_MODES or image.mode in ("I", "F"):
        return _high_depth_to_rgb(image)
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in _MODES_WITH_ALPHA:
        # Pasted through its own alpha onto white: one RGB copy, not three RGBA ones.
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
        white = Image.new("RGB", rgba.size, (255, 255, 255))
        white.paste(rgba, mask=rgba.getchannel("A"))
        return white
    if image.mode == "RGB":
        return image
    return image.convert("RGB")


def _high_depth_to_rgb(image: Image.Image) -> Image.Image:
    # Pillow's convert("RGB") clamps 16-bit values at 255, turning most photos white: rescale.
    pixels = np.asarray(image, dtype=np.float64)
    if image.mode == "F" and pixels.max(initial=0.0) <= 1.0:
        scaled = pixels * 255.0
    elif image.mode in _SIXTEEN_BIT_MODES or pixels.max(initial=0.0) > 255:
        scaled = pixels / 257.0
    else:
        scaled = pixels
    gray = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return Image.fromarray(gray).convert("RGB")


def resize_to_array(image: Image.Image, size: int) -> np.ndarray:
    """Whole image -> size x size float32 RGB array in 0..255 (bilinear, antialiased when shrinking).

    `reducing_gap` first shrinks by a whole factor (cheap box filter) while the image stays at
    least 3x the target, then resamples: the same result within a grey level, at a fraction of the cost.
    """
    resized = image.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=REDUCING_GAP)
    return np.asarray(resized, dtype=np.float32)


def encode_thumbnail(image: Image.Image, *, max_side: int = THUMBNAIL_SIDE) -> bytes:
    """A re-encoded JPEG no larger than max_side, without any of the upload's metadata.

    Shrunk by a whole factor with Pillow's box filter (`Image.reduce`) when that keeps at least
    THUMBNAIL_MIN_FRACTION of max_side: a 500x375 photo becomes 250x188 in 0.17 ms, where a bilinear
    resample to exactly 256x192 took 1.1 ms, a third of a batch job's work per photo outside the model
    (docs/architecture.md, "Batch jobs, profiled"). Otherwise resampled to max_side. Either way only the
    small result is allocated, never a copy of the whole image.
    """
    longest = max(image.size)
    if longest <= max_side:
        thumbnail = image
    else:
        factor = math.ceil(longest / max_side)  # reduce() rounds up: ceil(longest / factor) <= max_side
        if longest / factor >= THUMBNAIL_MIN_FRACTION * max_side:
            thumbnail = image.reduce(factor)
        else:
            scale = max_side / longest
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            thumbnail = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=REDUCING_GAP)
    buffer = io.BytesIO()
    thumbnail.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def encode_model_input(pixels: np.ndarray) -> bytes:
    """What a model saw (size x size x 3, 0..255, before normalisation) as it is stored: raw RGB bytes, row by row.

    Not a PNG: a profile of `POST /api/v1/classify` (docs/architecture.md, "The request path, profiled") found
    the PNG encoding, even at zlib level 1, the request thread's largest cost (22% of its samples with
    EfficientNet-Lite0, 3.9 ms for a 224 x 224 photo); the raw copy takes 0.4 ms for 1.7x the bytes. It becomes
    a PNG only where it is shown (`model_input_png`)."""
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8).tobytes()


def decode_model_input(stored: bytes, *, size: int) -> np.ndarray:
    """A stored model input back as the float32 array `resize_to_array` made: size x size x 3 raw RGB bytes, or
    a size x size RGB PNG (how history entries stored before the raw form keep it)."""
    if not stored.startswith(PNG_SIGNATURE):
        if len(stored) != size * size * 3:
            raise InvalidInput(
                f"Expected a {size} x {size} RGB model input ({size * size * 3} bytes). Received {len(stored)} bytes"
            )
        return np.frombuffer(stored, dtype=np.uint8).reshape(size, size, 3).astype(np.float32)
    try:
        with Image.open(io.BytesIO(stored)) as image:
            image.load()
            if image.format != "PNG" or image.mode != "RGB" or image.size != (size, size):
                raise InvalidInput(
                    f"Expected a {size} x {size} RGB PNG model input. "
                    f"Received a {image.size[0]} x {image.size[1]} {image.mode} {image.format}"
                )
            return np.asarray(image, dtype=np.float32)
    except (OSError, Image.DecompressionBombError, SyntaxError) as error:
        raise InvalidInput(f"Expected a PNG model input. Received bytes Pillow cannot read ({error})") from None


def model_input_png(stored: bytes) -> bytes:
    """A stored model input as a lossless PNG to show (zlib level 1: 6% more bytes than Pillow's default level 6,
    in a third of the time); a PNG stored by an earlier version is returned as it is."""
    if stored.startswith(PNG_SIGNATURE):
        return stored
    side = math.isqrt(len(stored) // 3)
    if side == 0 or side * side * 3 != len(stored):
        raise InvalidInput(f"Expected a square RGB model input. Received {len(stored)} bytes")
    pixels = np.frombuffer(stored, dtype=np.uint8).reshape(side, side, 3)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="RGB").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
