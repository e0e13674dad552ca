"""What kind of file arrived, in words, for the error message of an upload that is not an image.

Only to word the message: whether an upload is an accepted image is decided by decoding it
(`imaging.decode_image`), never here. Every answer is plain words and a size, never the bytes
themselves, so nothing an upload contains is echoed back.
"""

from __future__ import annotations

import json

# Enough to tell text from binary; a multi-byte character cut at the end is allowed.
TEXT_SAMPLE_BYTES = 4096
# A whole upload is parsed as JSON only up to this size (the upload cap is larger).
MAX_JSON_PARSE_BYTES = 1024 * 1024

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"PK\x05\x06", "a ZIP archive"),  # an empty one
    (b"\x1f\x8b", "a gzip archive"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x7fELF", "an ELF executable"),
    (b"MZ", "a Windows executable"),
    (b"\x00\x00\x01\x00", "an ICO icon"),
)
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis")
_ALLOWED_CONTROL_CHARACTERS = frozenset("\t\n\r\f")


def describe_bytes(data: bytes) -> str:
    """`a text file (640 bytes)`, `an HTML document (1,024 bytes)`, ... or `640 bytes of an unrecognised kind`."""
    if not data:
        return "an empty file (0 bytes)"
    kind = _kind_of(data)
    size = f"{len(data):,} byte{'s' if len(data) != 1 else ''}"
    return f"{kind} ({size})" if kind else f"{size} of an unrecognised kind"


def _kind_of(data: bytes) -> str | None:
    markup = _markup_kind(data[:256].removeprefix(b"\xef\xbb\xbf").lstrip().lower())
    if markup:
        return markup
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            return kind
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "a HEIC/AVIF image"
    text = _as_text(data)
    if text is None:
        return None
    if text.lstrip()[:1] in ("{", "[") and _is_json(data):
        return "a JSON document"
    return "a text file"


def _markup_kind(head: bytes) -> str | None:
    if head.startswith((b"<!doctype html", b"<html")):
        return "an HTML document"
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "an SVG document"
    if head.startswith(b"<?xml"):
        return "an XML document"
    return None


def _as_text(data: bytes) -> str | None:
    """The start of `data` as text when it is printable UTF-8 (ASCII included), else None."""
    sample = data[:TEXT_SAMPLE_BYTES]
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as error:
        cut_character = len(data) > TEXT_SAMPLE_BYTES and error.start >= len(sample) - 3
        if not cut_character:
            return None
        text = sample[: error.start].decode("utf-8")
    text = text.removeprefix("\ufeff")
    if all(character.isprintable() or character in _ALLOWED_CONTROL_CHARACTERS for character in text):
        return text
    return None


def _is_json(data: bytes) -> bool:
    if len(data) > MAX_JSON_PARSE_BYTES:
        return False
    try:
        json.loads(data)
    except (ValueError, RecursionError):
        return False
    return True
