"""Zip archives of photos, treated as hostile until checked.

`open_archive` refuses an archive from its central directory before a byte is decompressed: not a zip
(415), damaged (400), or too big by any measure (413): its file size, the bytes of central directory
that `zipfile` would parse, the count of entries, the declared uncompressed total, and the compression
ratio of any entry or of the whole. `PhotoArchive.entries()` then yields the files one at a time, in
archive order, each decompressed with a hard cap, so a header that lies about its sizes cannot make an
entry, or the whole, larger than the limits. What cannot be read (encrypted, a nested archive, too
large, damaged, compressed other than by deflate) comes back as an entry with an `error`; folders and
the junk macOS and Windows leave in archives are skipped silently. Whether an entry's bytes are an
image is left to `recognizer.inference.imaging.decode_image`, the one place that decides a format.

Only stored and deflated entries are read, as zip tools make them: zipfile decompresses bzip2 and LZMA
without a cap on each call's output, so a few hundred bytes that lie about their size would still
expand to hundreds of megabytes in memory.

Entry names are never used as paths and nothing is extracted to disk. An entry's identity is its
`index`; its `name` is a label for people, made safe to display and unique within its archive, and its
`folders` are labels too (a later training feature reads one folder per class). The only file written
here is the spooled upload (`spool_upload`), in the directory the caller names; see there for who
removes it.

No Django here, so the limits come in as an `ArchiveLimits` the web layer builds from its settings.
"""

from __future__ import annotations

import os
import re
import struct
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from recognizer.inference.errors import RecognizerError

MIB = 1024 * 1024
GIB = 1024 * MIB

# Below this an entry (or a whole archive) cannot hurt whatever its ratio, and small files such as a
# blank icon or a text note honestly compress far better than any photo.
RATIO_EXEMPT_BYTES = 1 * MIB
# A generous size for one entry's record in the central directory (46 fixed bytes, a name, extra
# fields). zipfile reads and parses the whole central directory before the entries can be counted,
# so its size is what bounds that work.
CENTRAL_RECORD_BUDGET_BYTES = 300

NESTED_ARCHIVE = "Expected a photo. Received an archive: nested archives are not unpacked"
ENCRYPTED = "Expected a photo. Received an encrypted entry: encrypted entries are not read"
DAMAGED = "Expected an intact entry. Received one that could not be read: its checksum, data or header is damaged"
UNCAPPED_COMPRESSION = (
    "Expected an entry stored or deflated, as zip tools make them. "
    "Received one compressed another way (bzip2, LZMA or other), whose decompression cannot be capped"
)

_ARCHIVE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".tbz2", ".xz", ".txz", ".zst", ".7z", ".rar")
_ARCHIVE_SIGNATURES = (
    b"PK\x03\x04",  # zip
    b"PK\x05\x06",  # empty zip
    b"\x1f\x8b",  # gzip
    b"BZh",  # bzip2
    b"\xfd7zXZ\x00",  # xz
    b"\x28\xb5\x2f\xfd",  # zstandard
    b"7z\xbc\xaf\x27\x1c",  # 7-Zip
    b"Rar!\x1a\x07",  # RAR
)
_TAR_MAGIC_OFFSET = 257
_JUNK_FILE_NAMES = (".DS_Store", "Thumbs.db")
_JUNK_FOLDER = "__MACOSX"
_ENCRYPTED_FLAGS = 0x1 | 0x40  # traditional or strong encryption
_PATCH_DATA_FLAG = 0x20
# zipfile caps a deflate decompression's output per call, and stored data needs none.
_CAPPED_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)

_END_OF_CENTRAL_DIRECTORY = struct.Struct("<4s4H2LH")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_END_OF_CENTRAL_DIRECTORY = struct.Struct("<4sQ2H2L4Q")
_MAX_COMMENT_BYTES = 0xFFFF
_ZIP_STARTS = (b"PK\x03\x04", b"PK\x05\x06")

_DRIVE = re.compile(r"^[A-Za-z]:")
_DROPPED_PARTS = ("", ".", "..")
# Control, format (bidi overrides that reverse how a name reads), surrogate, private-use and line
# or paragraph separators: none belong in a label shown to people.
_UNSHOWN_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Zl", "Zp")
_PARSE_FAILURES = (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error, NotImplementedError)
_READ_FAILURES = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, RuntimeError, NotImplementedError)


class ArchiveRefused(RecognizerError):
    """An archive refused as a whole; `status` is the HTTP status it is answered with."""

    status = 400


class CorruptArchive(ArchiveRefused):
    status = 400


class ArchiveTooLarge(ArchiveRefused):
    status = 413


class NotAnArchive(ArchiveRefused):
    status = 415


@dataclass(frozen=True)
class ArchiveLimits:
    """What one archive may hold. Past a cap the archive is refused with a 413 before anything is decompressed,
    except past `max_entry_bytes`, which is that entry's error."""

    # The archive file itself; separate from (and larger than) a single photo's IMGREC_MAX_UPLOAD_MB.
    max_upload_bytes: int = 512 * MIB
    # Files that are read, photos or not; folders and junk are not counted here.
    max_entries: int = 5_000
    # Uncompressed, both as declared and as actually decompressed.
    max_total_bytes: int = 2 * GIB
    # One entry, uncompressed: a single photo's cap.
    max_entry_bytes: int = 10 * MIB
    # Uncompressed : compressed, for each entry and for the whole archive. Photos barely compress.
    max_ratio: float = 100.0
    # Display names longer than this keep their end (the file name), folder labels their start.
    max_name_chars: int = 200

    @property
    def max_listed_entries(self) -> int:
        """Entries of any kind: every photo of a macOS archive may bring a `__MACOSX/._` twin, and folders count."""
        return 3 * self.max_entries


@dataclass(frozen=True)
class ArchiveEntry:
    """One file of an archive: its bytes, or why they were not read (exactly one of `data` and `error` is set)."""

    index: int  # position in the archive's central directory, folders and skipped junk included: the identity
    name: str  # a label, unique within the archive; never a filesystem path
    folders: tuple[str, ...]  # the directories above it, as labels, outermost first
    data: bytes | None = field(repr=False)
    error: str | None

    @property
    def folder(self) -> str | None:
        """The top-level folder (a class name for training), or None for a file at the archive's root."""
        return self.folders[0] if self.folders else None


def open_archive(source: str | os.PathLike[str] | BinaryIO, limits: ArchiveLimits) -> PhotoArchive:
    """Check an archive on disk (a path, or a seekable binary file the caller keeps and closes) and open it.

    Raises NotAnArchive (415), CorruptArchive (400) or ArchiveTooLarge (413) before decompressing anything.
    Close the result (it is a context manager); a path opened here is closed with it.
    """
    if isinstance(source, str | os.PathLike):
        file = open(source, "rb")  # owned by the PhotoArchive, closed with it
        try:
            return PhotoArchive(file, limits, owns_file=True)
        except BaseException:
            file.close()
            raise
    return PhotoArchive(source, limits, owns_file=False)


class PhotoArchive:
    """An archive that passed every check made from its central directory."""

    def __init__(self, file: BinaryIO, limits: ArchiveLimits, *, owns_file: bool) -> None:
        self.limits = limits
        self._file = file
        self._owns_file = owns_file
        archive_bytes = _checked_archive_size(file, limits)
        _check_central_directory_size(file, archive_bytes, limits)
        self._zip = _parse(file)
        try:
            self._files = _checked_files(self._zip.infolist(), archive_bytes, limits)
        except BaseException:
            self._zip.close()
            raise

    @property
    def entry_count(self) -> int:
        """How many entries `entries()` yields: every file but folders and junk."""
        return len(self._files)

    def folders(self) -> list[tuple[str, ...]]:
        """The folder entries (a zip tool lists each folder, empty ones too), as labels, outermost first."""
        return [
            tuple(part[: self.limits.max_name_chars] for part in _label_parts(info.filename))
            for info in self._zip.infolist()
            if info.filename.replace("\\", "/").endswith("/") and _JUNK_FOLDER not in info.filename
        ]

    def entries(self) -> Iterator[ArchiveEntry]:
        """Each file in archive order, read with the per-entry cap.

        Raises ArchiveTooLarge (413) part-way if the bytes actually decompressed pass `max_total_bytes`,
        which only an archive whose headers lie can do: the declared total was checked when it was opened.
        """
        names = _UniqueNames()
        budget = _DecompressionBudget(self.limits.max_total_bytes)
        for index, info in self._files:
            parts = _label_parts(info.filename)
            name = names.claim(_display_name(parts, index, self.limits.max_name_chars))
            folders = tuple(part[: self.limits.max_name_chars] for part in parts[:-1])
            error = _refusal_before_reading(info, self.limits)
            data = None
            if error is None:
                data, error = _read_capped(self._zip, info, self.limits.max_entry_bytes, budget)
            yield ArchiveEntry(index=index, name=name, folders=folders, data=data, error=error)

    def close(self) -> None:
        self._zip.close()
        if self._owns_file:
            self._file.close()

    def __enter__(self) -> PhotoArchive:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


# --- spooling an upload to disk ------------------------------------------------------------------


def spool_upload(chunks: Iterable[bytes], *, cap_bytes: int, directory: str | os.PathLike[str]) -> Path:
    """Write an upload's chunks to a new temporary file in `directory` (which must exist) and return its path.

    Past `cap_bytes` the upload is refused with ArchiveTooLarge (413): the chunk that would cross the cap
    is not written, and the file is removed. So is it on any other failure. The returned file is the
    caller's to remove (`Path.unlink`) once the job's images are stored; `spooled_upload` does it on
    leaving a `with` block.
    """
    spool = tempfile.NamedTemporaryFile(dir=directory, prefix="imgrec-archive-", suffix=".zip", delete=False)
    path = Path(spool.name)
    try:
        with spool:
            received = 0
            for chunk in chunks:
                received += len(chunk)
                if received > cap_bytes:
                    raise ArchiveTooLarge(
                        f"Expected a .zip archive of at most {_size(cap_bytes)}. "
                        f"Received more than that: the upload was stopped at the cap"
                    )
                spool.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


@contextmanager
def spooled_upload(chunks: Iterable[bytes], *, cap_bytes: int, directory: str | os.PathLike[str]) -> Iterator[Path]:
    """`spool_upload`, with the file removed when the block ends, however it ends."""
    path = spool_upload(chunks, cap_bytes=cap_bytes, directory=directory)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


# --- checks made before anything is decompressed -------------------------------------------------


def _checked_archive_size(file: BinaryIO, limits: ArchiveLimits) -> int:
    archive_bytes = file.seek(0, os.SEEK_END)
    if archive_bytes > limits.max_upload_bytes:
        raise ArchiveTooLarge(
            f"Expected a .zip archive of at most {_size(limits.max_upload_bytes)}. Received {_size(archive_bytes)}"
        )
    if archive_bytes == 0:
        raise CorruptArchive("Expected a .zip archive. Received an empty file (0 bytes)")
    file.seek(0)
    if not file.read(4).startswith(_ZIP_STARTS):
        raise NotAnArchive("Expected a .zip archive. Received a file that does not begin with a zip signature")
    return archive_bytes


def _check_central_directory_size(file: BinaryIO, archive_bytes: int, limits: ArchiveLimits) -> None:
    """Refuse a central directory too large for the entries allowed, before zipfile reads all of it into memory."""
    directory_bytes = _central_directory_bytes(file, archive_bytes)
    budget = limits.max_listed_entries * CENTRAL_RECORD_BUDGET_BYTES
    if directory_bytes > budget:
        raise ArchiveTooLarge(
            f"Expected a .zip archive of at most {limits.max_entries:,} photos. Received one whose list of entries "
            f"alone takes {_size(directory_bytes)}, room for far more"
        )


def _central_directory_bytes(file: BinaryIO, archive_bytes: int) -> int:
    """The central directory's size, read from the same end records zipfile uses, found the way it finds them."""
    tail_start = max(
        0,
        archive_bytes
        - _END_OF_CENTRAL_DIRECTORY.size
        - _MAX_COMMENT_BYTES
        - _ZIP64_LOCATOR.size
        - _ZIP64_END_OF_CENTRAL_DIRECTORY.size,
    )
    file.seek(tail_start)
    tail = file.read()
    end_at = _end_record_offset(tail)
    if end_at is None:
        raise CorruptArchive(
            "Expected a complete .zip archive. Received one cut short or damaged: its list of entries is missing"
        )
    directory_bytes: int = _END_OF_CENTRAL_DIRECTORY.unpack_from(tail, end_at)[5]
    zip64_at = end_at - _ZIP64_LOCATOR.size - _ZIP64_END_OF_CENTRAL_DIRECTORY.size
    if zip64_at >= 0 and tail.startswith(b"PK\x06\x07", end_at - _ZIP64_LOCATOR.size):
        if tail.startswith(b"PK\x06\x06", zip64_at):
            directory_bytes = _ZIP64_END_OF_CENTRAL_DIRECTORY.unpack_from(tail, zip64_at)[8]
    return directory_bytes


def _end_record_offset(tail: bytes) -> int | None:
    """Where the end-of-central-directory record starts: at the very end when there is no comment, else the last one."""
    record_size = _END_OF_CENTRAL_DIRECTORY.size
    last = len(tail) - record_size
    if last >= 0 and tail.startswith(b"PK\x05\x06", last) and tail.endswith(b"\x00\x00"):
        return last
    found = tail.rfind(b"PK\x05\x06")
    if found < 0 or found > last:
        return None
    return found


def _parse(file: BinaryIO) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(file)
    except _PARSE_FAILURES as exc:
        raise CorruptArchive("Expected a readable .zip archive. Received one whose list of entries is damaged") from exc


def _checked_files(
    infos: list[zipfile.ZipInfo], archive_bytes: int, limits: ArchiveLimits
) -> list[tuple[int, zipfile.ZipInfo]]:
    """The entries to yield, with their index, after refusing the archive for its counts, sizes and ratios."""
    if len(infos) > limits.max_listed_entries:
        raise ArchiveTooLarge(
            f"Expected a .zip archive of at most {limits.max_entries:,} photos. Received {len(infos):,} entries"
        )
    files = [(index, info) for index, info in enumerate(infos) if not _is_skipped(info)]
    if len(files) > limits.max_entries:
        raise ArchiveTooLarge(
            f"Expected a .zip archive of at most {limits.max_entries:,} photos. Received {len(files):,} files"
        )
    declared_bytes = sum(info.file_size for info in infos)
    if declared_bytes > limits.max_total_bytes:
        raise ArchiveTooLarge(
            f"Expected a .zip archive of at most {_size(limits.max_total_bytes)} uncompressed. "
            f"Received one that declares {_size(declared_bytes)}"
        )
    for index, info in enumerate(infos):
        if _expands_too_much(info.file_size, info.compress_size, limits.max_ratio):
            label = _display_name(_label_parts(info.filename), index, limits.max_name_chars)
            raise ArchiveTooLarge(
                f"Expected a .zip archive compressed at most {limits.max_ratio:,.0f}:1 (photos barely compress). "
                f"Received entry {index + 1} ({label}) that expands from {_size(info.compress_size)} "
                f"to {_size(info.file_size)}"
            )
    # Against the file's size, not the entries' compressed sizes: entries that share their data count once.
    if _expands_too_much(declared_bytes, archive_bytes, limits.max_ratio):
        raise ArchiveTooLarge(
            f"Expected a .zip archive compressed at most {limits.max_ratio:,.0f}:1 (photos barely compress). "
            f"Received {_size(archive_bytes)} that expands to {_size(declared_bytes)}"
        )
    return files


def _expands_too_much(uncompressed: int, compressed: int, max_ratio: float) -> bool:
    return uncompressed > RATIO_EXEMPT_BYTES and uncompressed > max_ratio * compressed


def _is_skipped(info: zipfile.ZipInfo) -> bool:
    """Folders, and what macOS (`__MACOSX/`, `.DS_Store`, `._*` resource forks) and Windows leave in archives."""
    path = info.filename.replace("\\", "/")
    parts = path.split("/")
    return path.endswith("/") or _JUNK_FOLDER in parts or parts[-1] in _JUNK_FILE_NAMES or parts[-1].startswith("._")


# --- reading one entry ---------------------------------------------------------------------------


def _refusal_before_reading(info: zipfile.ZipInfo, limits: ArchiveLimits) -> str | None:
    if info.flag_bits & _ENCRYPTED_FLAGS:
        return ENCRYPTED
    if info.compress_type not in _CAPPED_METHODS or info.flag_bits & _PATCH_DATA_FLAG:
        return UNCAPPED_COMPRESSION
    if info.filename.lower().endswith(_ARCHIVE_SUFFIXES):
        return NESTED_ARCHIVE
    if info.file_size > limits.max_entry_bytes:
        return f"Expected a photo of at most {_size(limits.max_entry_bytes)}. Received {_size(info.file_size)}"
    return None


def _read_capped(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, max_entry_bytes: int, budget: _DecompressionBudget
) -> tuple[bytes | None, str | None]:
    """The entry's bytes, decompressing at most one byte past the cap whatever its header says, or why not."""
    try:
        with archive.open(info) as stream:
            data = stream.read(max_entry_bytes + 1)
    except _READ_FAILURES:
        return None, DAMAGED
    budget.spend(len(data))
    if len(data) > max_entry_bytes:
        return None, f"Expected a photo of at most {_size(max_entry_bytes)}. Received more than that"
    if _looks_like_archive(data):
        return None, NESTED_ARCHIVE
    return data, None


def _looks_like_archive(data: bytes) -> bool:
    return data.startswith(_ARCHIVE_SIGNATURES) or data.startswith(b"ustar", _TAR_MAGIC_OFFSET)


class _DecompressionBudget:
    """The bytes actually decompressed so far, held to the archive's uncompressed cap."""

    def __init__(self, max_total_bytes: int) -> None:
        self.max_total_bytes = max_total_bytes
        self.spent = 0

    def spend(self, decompressed_bytes: int) -> None:
        self.spent += decompressed_bytes
        if self.spent > self.max_total_bytes:
            raise ArchiveTooLarge(
                f"Expected a .zip archive of at most {_size(self.max_total_bytes)} uncompressed. "
                f"Received more than that, although its headers declared less"
            )


# --- names shown to people -----------------------------------------------------------------------


def _label_parts(filename: str) -> list[str]:
    """The entry's path as labels: split on either slash, no drive letter, empty, `.` and `..` parts dropped.

    Dropped, not resolved: a hostile archive has no intended meaning for `cats/../dogs` to recover.
    """
    path = _DRIVE.sub("", filename.replace("\\", "/"))
    return [label for part in path.split("/") if (label := _visible(part)) not in _DROPPED_PARTS]


def _visible(text: str) -> str:
    shown = "".join("\N{REPLACEMENT CHARACTER}" if unicodedata.category(c) in _UNSHOWN_CATEGORIES else c for c in text)
    return shown.strip()


def _display_name(parts: list[str], index: int, max_chars: int) -> str:
    name = "/".join(parts) or f"entry {index + 1}"
    if len(name) > max_chars:
        return "\N{HORIZONTAL ELLIPSIS}" + name[-(max_chars - 1) :]
    return name


class _UniqueNames:
    """Keeps equal display names apart: the second `a.jpg` becomes `a (2).jpg`, the third `a (3).jpg`."""

    def __init__(self) -> None:
        self._taken: set[str] = set()
        self._next_copy: dict[str, int] = {}

    def claim(self, name: str) -> str:
        # Counting on from the last copy keeps thousands of equal names linear, not quadratic.
        copy = self._next_copy.get(name, 1)
        candidate = name if copy == 1 else _numbered(name, copy)
        while candidate in self._taken:
            copy += 1
            candidate = _numbered(name, copy)
        self._next_copy[name] = copy + 1
        self._taken.add(candidate)
        return candidate


def _numbered(name: str, copy: int) -> str:
    file_name_at = name.rfind("/") + 1
    dot = name.rfind(".")
    if dot > file_name_at:
        return f"{name[:dot]} ({copy}){name[dot:]}"
    return f"{name} ({copy})"


def _size(byte_count: int) -> str:
    if byte_count < MIB:
        return f"{byte_count:,} bytes"
    megabytes = byte_count / MIB
    return f"{megabytes:,.0f} MB" if megabytes.is_integer() else f"{megabytes:,.1f} MB"
