from __future__ import annotations

import gzip
import io
import json
import zipfile

import pytest

from recognizer.inference.sniffing import TEXT_SAMPLE_BYTES, describe_bytes
from tests.images import encode, scene_rgb


def zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("photo.jpg", b"not really")
    return buffer.getvalue()


KINDS = [
    ("plain ASCII", b"these are words, not pixels\n" * 20, "a text file (560 bytes)"),
    ("UTF-8 with a BOM", "\ufeffcaf\u00e9 cr\u00e8me".encode(), "a text file"),
    ("UTF-8 cut inside a character", "\u00e9".encode() * TEXT_SAMPLE_BYTES, "a text file"),
    ("HTML", b"\n  <!DOCTYPE HTML><html><body>hi</body></html>", "an HTML document"),
    ("SVG", b'<svg xmlns="http://www.w3.org/2000/svg"/>', "an SVG document"),
    ("SVG after an XML declaration", b'<?xml version="1.0"?>\n<svg/>', "an SVG document"),
    ("XML", b'<?xml version="1.0"?><feed/>', "an XML document"),
    ("JSON object", json.dumps({"image": "cat.jpg", "top_k": 5}).encode(), "a JSON document"),
    ("JSON array", b"[1, 2, 3]", "a JSON document"),
    ("text that only starts like JSON", b"{not json at all", "a text file"),
    ("PDF", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "a PDF document"),
    ("ZIP", zip_archive(), "a ZIP archive"),
    ("gzip", gzip.compress(b"pixels"), "a gzip archive"),
    ("TIFF", encode(scene_rgb(16, 16), "TIFF"), "a TIFF image"),
    ("HEIC", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "a HEIC/AVIF image"),
    ("AVIF", b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1", "a HEIC/AVIF image"),
    ("ELF", b"\x7fELF\x02\x01\x01" + bytes(57), "an ELF executable (64 bytes)"),
    ("PE", b"MZ\x90\x00" + bytes(60), "a Windows executable"),
    ("ICO", encode(scene_rgb(16, 16), "ICO"), "an ICO icon"),
    ("one byte", b"\x00", "1 byte of an unrecognised kind"),
    ("random bytes", bytes(range(256)) * 3, "768 bytes of an unrecognised kind"),
    ("empty", b"", "an empty file (0 bytes)"),
]


@pytest.mark.parametrize(
    ("data", "expected"), [(data, expected) for _, data, expected in KINDS], ids=[k[0] for k in KINDS]
)
def test_each_kind_is_named_in_words(data: bytes, expected: str) -> None:
    assert expected in describe_bytes(data)


@pytest.mark.parametrize("data", [data for _, data, _ in KINDS], ids=[k[0] for k in KINDS])
def test_no_bytes_are_echoed(data: bytes) -> None:
    described = describe_bytes(data)
    assert "b'" not in described and "\\x" not in described
    assert len(described) < 60


def test_sizes_are_grouped_by_thousands() -> None:
    assert describe_bytes(b"words " * 2000) == "a text file (12,000 bytes)"
