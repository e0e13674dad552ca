"""Zip archives of photos: ordinary ones read in order, hostile ones refused whole or entry by entry."""

from __future__ import annotations

import io
import os
import struct
import tarfile
import tracemalloc
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from recognizer.jobs.archives import (
    DAMAGED,
    ENCRYPTED,
    MIB,
    NESTED_ARCHIVE,
    UNCAPPED_COMPRESSION,
    ArchiveLimits,
    ArchiveTooLarge,
    CorruptArchive,
    NotAnArchive,
    PhotoArchive,
    open_archive,
    spool_upload,
    spooled_upload,
)
from tests.images import encode, png_bytes, scene_rgb

JPEG = encode(scene_rgb(64, 48), "JPEG")
PNG = png_bytes(64, 48)
# What "memory stayed small" means below: far less than any of the payloads these tests refuse.
SMALL_PEAK_BYTES = 4 * MIB

_CENTRAL_HEADER = struct.Struct("<4s6H3L5H2L")  # 46 bytes, then the name
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # 30 bytes, then the name


def zip_bytes(entries: list[tuple[str, bytes]], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns of the duplicate names some tests need
        with zipfile.ZipFile(buffer, "w", compression) as archive:
            for name, data in entries:
                archive.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return buffer.getvalue()


def opened(data: bytes, limits: ArchiveLimits | None = None) -> PhotoArchive:
    return open_archive(io.BytesIO(data), limits or ArchiveLimits())


def read_all(data: bytes, limits: ArchiveLimits | None = None) -> list:
    with opened(data, limits) as archive:
        return list(archive.entries())


def patch_headers(data: bytes, name: str, patch: Callable[[list[int], str], None]) -> bytes:
    """`data` with `patch(fields, kind)` applied to the local ("local") and central ("central") headers of `name`."""
    patched = bytearray(data)
    for signature, header, name_length_field, kind in (
        (b"PK\x03\x04", _LOCAL_HEADER, 9, "local"),
        (b"PK\x01\x02", _CENTRAL_HEADER, 10, "central"),
    ):
        at = patched.find(signature)
        while at >= 0:
            fields = list(header.unpack_from(patched, at))
            start = at + header.size
            if patched[start : start + fields[name_length_field]] == name.encode():
                patch(fields, kind)
                header.pack_into(patched, at, *fields)
            at = patched.find(signature, at + 4)
    return bytes(patched)


def declare_size(data: bytes, name: str, file_size: int) -> bytes:
    """Make both headers of `name` lie about its uncompressed size."""

    def lie(fields: list[int], kind: str) -> None:
        fields[8 if kind == "local" else 9] = file_size

    return patch_headers(data, name, lie)


def files_under(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


# --- ordinary archives ---------------------------------------------------------------------------


def test_photos_come_back_in_archive_order_with_their_folders() -> None:
    data = zip_bytes(
        [
            ("cats/", b""),
            ("cats/a.jpg", JPEG),
            ("dogs/puppies/b.png", PNG),
            ("c.png", PNG),
            ("__MACOSX/cats/._a.jpg", b"resource fork"),
            ("dogs/._b.png", b"resource fork"),
            ("cats/.DS_Store", b"finder"),
            ("Thumbs.db", b"explorer"),
        ]
    )

    with opened(data) as archive:
        assert archive.entry_count == 3
        entries = list(archive.entries())

    assert [entry.name for entry in entries] == ["cats/a.jpg", "dogs/puppies/b.png", "c.png"]
    assert [entry.index for entry in entries] == [1, 2, 3]
    assert [entry.folder for entry in entries] == ["cats", "dogs", None]
    assert entries[1].folders == ("dogs", "puppies")
    assert [entry.data for entry in entries] == [JPEG, PNG, PNG]
    assert all(entry.error is None for entry in entries)


def test_a_path_is_opened_and_read_like_a_file(tmp_path: Path) -> None:
    path = tmp_path / "photos.zip"
    path.write_bytes(zip_bytes([("a.jpg", JPEG)]))

    with open_archive(path, ArchiveLimits()) as archive:
        assert [entry.data for entry in archive.entries()] == [JPEG]


def test_an_empty_entry_is_yielded_for_the_decoder_to_refuse() -> None:
    [entry] = read_all(zip_bytes([("empty.jpg", b"")]))

    assert entry.data == b""
    assert entry.error is None


def test_the_default_limits_follow_the_issue() -> None:
    limits = ArchiveLimits()

    assert limits.max_entries == 5_000
    assert limits.max_upload_bytes >= 500 * 1000 * 1000
    assert limits.max_entry_bytes == 10 * MIB


# --- refused as a whole --------------------------------------------------------------------------


def test_a_file_that_is_not_a_zip_is_refused_as_unsupported() -> None:
    with pytest.raises(NotAnArchive) as refused:
        opened(PNG)

    assert refused.value.status == 415
    assert "Expected a .zip archive" in str(refused.value)


def test_an_empty_file_is_refused_as_malformed() -> None:
    with pytest.raises(CorruptArchive) as refused:
        opened(b"")

    assert refused.value.status == 400
    assert "Received an empty file" in str(refused.value)


@pytest.mark.parametrize("kept", [0.5, 0.99])
def test_a_truncated_zip_is_refused_as_malformed(kept: float) -> None:
    whole = zip_bytes([("a.jpg", JPEG), ("b.png", PNG)])

    with pytest.raises(CorruptArchive) as refused:
        opened(whole[: int(len(whole) * kept)])

    assert refused.value.status == 400
    assert "cut short or damaged" in str(refused.value)


def test_a_damaged_list_of_entries_is_refused_as_malformed() -> None:
    damaged = zip_bytes([("a.jpg", JPEG)]).replace(b"PK\x01\x02", b"XX\x01\x02")

    with pytest.raises(CorruptArchive) as refused:
        opened(damaged)

    assert refused.value.status == 400


def test_an_archive_over_the_upload_cap_is_refused() -> None:
    data = zip_bytes([("noise.bin", os.urandom(2 * MIB))], compression=zipfile.ZIP_STORED)

    with pytest.raises(ArchiveTooLarge) as refused:
        opened(data, ArchiveLimits(max_upload_bytes=1 * MIB))

    assert refused.value.status == 413
    assert "Expected a .zip archive of at most 1 MB. Received 2.0 MB" in str(refused.value)


def test_ten_thousand_empty_entries_are_refused_with_the_entry_cap() -> None:
    data = zip_bytes([(f"photo-{number:05}.jpg", b"") for number in range(10_000)], compression=zipfile.ZIP_STORED)

    with pytest.raises(ArchiveTooLarge) as refused:
        opened(data)

    assert refused.value.status == 413
    assert str(refused.value) == "Expected a .zip archive of at most 5,000 photos. Received 10,000 files"


def test_folders_and_junk_count_against_a_looser_cap_on_all_entries() -> None:
    data = zip_bytes([(f"folder-{number}/", b"") for number in range(40)], compression=zipfile.ZIP_STORED)

    with pytest.raises(ArchiveTooLarge) as refused:
        opened(data, ArchiveLimits(max_entries=10))

    assert str(refused.value) == "Expected a .zip archive of at most 10 photos. Received 40 entries"


def test_a_list_of_entries_too_long_for_the_cap_is_refused_before_zipfile_parses_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = zip_bytes([(f"photo-{number:05}.jpg", b"") for number in range(2_000)], compression=zipfile.ZIP_STORED)

    def never_parsed(*args: object, **kwargs: object) -> None:
        raise AssertionError("zipfile parsed the central directory")

    monkeypatch.setattr(zipfile, "ZipFile", never_parsed)
    with pytest.raises(ArchiveTooLarge) as refused:
        opened(data, ArchiveLimits(max_entries=10))

    assert "Expected a .zip archive of at most 10 photos. Received one whose list of entries" in str(refused.value)


def test_the_zip64_size_of_the_list_of_entries_is_the_one_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as writing:
        writing.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 10)  # so that zipfile writes the zip64 end records
        data = bytearray(
            zip_bytes([(f"photo-{number:05}.jpg", b"") for number in range(2_000)], compression=zipfile.ZIP_STORED)
        )
    assert data.find(b"PK\x06\x06") > 0
    struct.pack_into("<L", data, len(data) - 22 + 12, 100)  # the classic record now understates it; zipfile ignores it

    def never_parsed(*args: object, **kwargs: object) -> None:
        raise AssertionError("zipfile parsed the central directory")

    monkeypatch.setattr(zipfile, "ZipFile", never_parsed)
    with pytest.raises(ArchiveTooLarge) as refused:
        opened(bytes(data), ArchiveLimits(max_entries=10))

    assert "Received one whose list of entries alone takes 122,000 bytes" in str(refused.value)


def test_a_declared_total_over_the_cap_is_refused() -> None:
    data = zip_bytes([(f"{letter}.bin", os.urandom(600 * 1024)) for letter in "abc"])

    with pytest.raises(ArchiveTooLarge) as refused:
        opened(data, ArchiveLimits(max_total_bytes=1 * MIB))

    assert str(refused.value) == (
        "Expected a .zip archive of at most 1 MB uncompressed. Received one that declares 1.8 MB"
    )


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 MB of zeros deflated to about 200 KB, written a megabyte at a time."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("zeros.png", "w") as entry:
        for _ in range(200):
            entry.write(bytes(MIB))
    return path


def test_a_zip_bomb_is_refused_before_anything_is_decompressed(zip_bomb: Path) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(ArchiveTooLarge) as refused:
            open_archive(zip_bomb, ArchiveLimits())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert refused.value.status == 413
    assert "compressed at most 100:1" in str(refused.value)
    assert "Received entry 1 (zeros.png) that expands" in str(refused.value)
    assert "to 200 MB" in str(refused.value)
    assert peak < SMALL_PEAK_BYTES


def test_many_small_entries_that_together_expand_too_much_are_refused() -> None:
    # Each is under the size below which a ratio is not judged; the archive as a whole is not.
    data = zip_bytes([(f"zeros-{number}.png", bytes(1_000_000)) for number in range(30)])

    with pytest.raises(ArchiveTooLarge) as refused:
        opened(data)

    assert "compressed at most 100:1" in str(refused.value)
    assert "expands to 28.6 MB" in str(refused.value)


def test_a_small_file_that_compresses_well_is_not_taken_for_a_bomb() -> None:
    [entry] = read_all(zip_bytes([("blank.bmp", bytes(100_000))]))

    assert entry.data == bytes(100_000)


# --- lying headers -------------------------------------------------------------------------------


def test_an_entry_larger_than_its_header_declares_is_not_read_past_the_declared_size() -> None:
    honest = zip_bytes([("first.png", PNG), ("liar.png", bytes(5 * MIB)), ("last.jpg", JPEG)])
    lying = declare_size(honest, "liar.png", 4_000)  # small enough to escape the ratio check

    tracemalloc.start()
    try:
        entries = read_all(lying, ArchiveLimits(max_entry_bytes=1 * MIB))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert [(entry.name, entry.error) for entry in entries] == [
        ("first.png", None),
        ("liar.png", DAMAGED),
        ("last.jpg", None),
    ]
    assert entries[1].data is None
    assert peak < SMALL_PEAK_BYTES


class FloodingStream:
    """An entry stream that gives whatever is asked: a reader that trusted the data over the header."""

    def __init__(self, requests: list[int]) -> None:
        self.requests = requests

    def read(self, size: int) -> bytes:
        self.requests.append(size)
        return bytes(size)

    def __enter__(self) -> FloodingStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None


def flood_entries(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """From now on every entry opened gives more than it declares; returns the sizes read, as they are asked for."""
    requests: list[int] = []
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda archive, info: FloodingStream(requests))
    return requests


def test_an_entry_is_never_read_past_one_byte_over_its_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    data = zip_bytes([("small.png", PNG)])
    requests = flood_entries(monkeypatch)

    [entry] = read_all(data, ArchiveLimits(max_entry_bytes=1 * MIB))

    assert entry.error == "Expected a photo of at most 1 MB. Received more than that"
    assert entry.data is None
    assert requests == [1 * MIB + 1]


def test_the_bytes_actually_decompressed_are_held_to_the_total_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    data = zip_bytes([(f"photo-{number}.png", PNG) for number in range(5)])
    flood_entries(monkeypatch)
    limits = ArchiveLimits(max_entry_bytes=1 * MIB, max_total_bytes=3 * MIB)

    with opened(data, limits) as archive:
        entries = archive.entries()
        refused_entries = [next(entries).error for _ in range(2)]
        with pytest.raises(ArchiveTooLarge) as refused:
            next(entries)

    assert refused_entries == ["Expected a photo of at most 1 MB. Received more than that"] * 2
    assert refused.value.status == 413
    assert "although its headers declared less" in str(refused.value)


# --- refused entry by entry ----------------------------------------------------------------------


def tar_bytes() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        member = tarfile.TarInfo("inside.png")
        member.size = len(PNG)
        archive.addfile(member, io.BytesIO(PNG))
    return buffer.getvalue()


def test_nested_archives_are_reported_per_entry_and_the_others_still_read() -> None:
    inner = zip_bytes([("inside.png", PNG)])
    data = zip_bytes(
        [
            ("a.png", PNG),
            ("inner.zip", inner),
            ("disguised.png", inner),
            ("photos.tar.gz", b"not even gzip"),
            ("tarball.jpg", tar_bytes()),
            ("b.jpg", JPEG),
        ]
    )

    entries = read_all(data)

    assert [(entry.name, entry.error) for entry in entries] == [
        ("a.png", None),
        ("inner.zip", NESTED_ARCHIVE),
        ("disguised.png", NESTED_ARCHIVE),
        ("photos.tar.gz", NESTED_ARCHIVE),
        ("tarball.jpg", NESTED_ARCHIVE),
        ("b.jpg", None),
    ]
    assert [entry.data for entry in entries] == [PNG, None, None, None, None, JPEG]


def test_an_entry_declared_over_the_photo_cap_is_reported_and_not_read() -> None:
    data = zip_bytes([("huge.png", os.urandom(2 * MIB)), ("a.png", PNG)], compression=zipfile.ZIP_STORED)

    entries = read_all(data, ArchiveLimits(max_entry_bytes=1 * MIB))

    assert entries[0].error == "Expected a photo of at most 1 MB. Received 2 MB"
    assert entries[0].data is None
    assert entries[1].data == PNG


@pytest.mark.parametrize("flag", [0x1, 0x40], ids=["traditional", "strong"])
def test_an_encrypted_entry_is_reported_and_not_read(flag: int) -> None:
    # zipfile cannot write encrypted entries; setting the flag bit is all a reader has to go on.
    def encrypted(fields: list[int], kind: str) -> None:
        fields[2 if kind == "local" else 3] |= flag

    data = patch_headers(zip_bytes([("secret.png", PNG), ("a.png", PNG)]), "secret.png", encrypted)

    entries = read_all(data)

    assert [(entry.name, entry.error) for entry in entries] == [("secret.png", ENCRYPTED), ("a.png", None)]


def test_an_unknown_compression_method_is_reported_per_entry() -> None:
    def method_99(fields: list[int], kind: str) -> None:
        fields[3 if kind == "local" else 4] = 99

    data = patch_headers(zip_bytes([("odd.png", PNG), ("a.png", PNG)]), "odd.png", method_99)

    entries = read_all(data)

    assert entries[0].error == UNCAPPED_COMPRESSION
    assert entries[1].data == PNG


@pytest.mark.parametrize("compression", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA], ids=["bzip2", "lzma"])
def test_an_entry_whose_decompression_cannot_be_capped_is_not_read(compression: int) -> None:
    # zipfile would expand these 30 MB, declared as 4,000 bytes, whole into memory.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive, archive.open("zeros.png", "w") as entry:
        for _ in range(30):
            entry.write(bytes(MIB))
    lying = declare_size(buffer.getvalue(), "zeros.png", 4_000)

    tracemalloc.start()
    try:
        [entry] = read_all(lying)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert entry.error == UNCAPPED_COMPRESSION
    assert peak < SMALL_PEAK_BYTES


def test_a_damaged_entry_is_reported_and_the_others_still_read() -> None:
    data = bytearray(zip_bytes([("a.png", PNG), ("b.png", PNG)], compression=zipfile.ZIP_STORED))
    first_copy = data.find(PNG)
    data[first_copy + 100] ^= 0xFF  # the CRC no longer matches

    entries = read_all(bytes(data))

    assert [(entry.name, entry.error) for entry in entries] == [("a.png", DAMAGED), ("b.png", None)]


# --- names ---------------------------------------------------------------------------------------


HOSTILE_NAMES = [
    "../../etc/passwd",
    "/absolute/evil.png",
    "C:\\Windows\\evil.png",
    "a/./b/../c.png",
    "colour\x1b[31m\u202egnp.exe",
    "..",
    "ok.png",
]


def test_hostile_names_become_safe_labels_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "hostile.zip"
    path.write_bytes(zip_bytes([(name, PNG) for name in HOSTILE_NAMES]))
    working = tmp_path / "work" / "deeper"
    working.mkdir(parents=True)
    monkeypatch.chdir(working)  # a `../../` written relative to here would land inside tmp_path
    before = files_under(tmp_path)

    with open_archive(path, ArchiveLimits()) as archive:
        entries = list(archive.entries())

    assert files_under(tmp_path) == before
    assert [entry.name for entry in entries] == [
        "etc/passwd",
        "absolute/evil.png",
        "Windows/evil.png",
        "a/b/c.png",
        "colour\ufffd[31m\ufffdgnp.exe",
        "entry 6",
        "ok.png",
    ]
    assert [entry.folder for entry in entries] == ["etc", "absolute", "Windows", "a", None, None, None]
    for entry in entries:
        assert not any(unicodedata.category(character).startswith("C") for character in entry.name)
        assert all(part not in ("", ".", "..") for part in entry.name.split("/"))
    assert all(entry.data == PNG for entry in entries)


def test_long_names_keep_their_end_and_folders_their_start() -> None:
    long_folder = "f" * 300
    [entry] = read_all(zip_bytes([(f"{long_folder}/{'n' * 300}.png", PNG)]), ArchiveLimits(max_name_chars=50))

    assert len(entry.name) == 50
    assert entry.name.startswith("\u2026")
    assert entry.name.endswith("nnn.png")
    assert entry.folder == "f" * 50


def test_equal_names_are_kept_apart() -> None:
    data = zip_bytes(
        [
            ("a.jpg", b"1"),
            ("a.jpg", b"2"),
            ("a.jpg", b"3"),
            ("a (2).jpg", b"4"),
            ("cats/a", b"5"),
            ("cats\\a", b"6"),
        ]
    )

    entries = read_all(data)

    assert [(entry.name, entry.data) for entry in entries] == [
        ("a.jpg", b"1"),
        ("a (2).jpg", b"2"),
        ("a (3).jpg", b"3"),
        ("a (2) (2).jpg", b"4"),
        ("cats/a", b"5"),
        ("cats/a (2)", b"6"),
    ]
    assert len({entry.index for entry in entries}) == len(entries)


# --- spooling an upload --------------------------------------------------------------------------


def counted_chunks(count: int, size: int, pulled: list[int]) -> Iterator[bytes]:
    for number in range(count):
        pulled.append(number)
        yield bytes(size)


def test_an_upload_is_spooled_into_the_directory_given(tmp_path: Path) -> None:
    archive = zip_bytes([("a.jpg", JPEG)])

    path = spool_upload([archive[:100], archive[100:]], cap_bytes=1 * MIB, directory=tmp_path)

    assert path.parent == tmp_path
    assert path.read_bytes() == archive
    path.unlink()


def test_an_upload_over_the_cap_stops_there_and_leaves_no_file(tmp_path: Path) -> None:
    pulled: list[int] = []

    with pytest.raises(ArchiveTooLarge) as refused:
        spool_upload(counted_chunks(100, MIB, pulled), cap_bytes=5 * MIB // 2, directory=tmp_path)

    assert refused.value.status == 413
    assert "Expected a .zip archive of at most 2.5 MB" in str(refused.value)
    assert pulled == [0, 1, 2]
    assert files_under(tmp_path) == []


def test_a_spooled_upload_is_removed_when_the_block_ends_even_by_an_error(tmp_path: Path) -> None:
    with spooled_upload([b"PK"], cap_bytes=MIB, directory=tmp_path) as path:
        assert path.exists()
    assert files_under(tmp_path) == []

    with pytest.raises(RuntimeError), spooled_upload([b"PK"], cap_bytes=MIB, directory=tmp_path):
        raise RuntimeError("the job failed")
    assert files_under(tmp_path) == []
