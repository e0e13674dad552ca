"""A training set from a zip with one folder per class: `cats/a.jpg`, `dogs/b.png`, ...

The zip is read by jobs/archives.py, which refuses a hostile one (not a zip, damaged, too many entries,
too large declared or decompressed, compressed too well) before a byte is decompressed, and never uses a
name as a path: folder names only become class labels. Here the layout is checked: every photo one
level down in a class folder, no files at the top level, no nested or empty folders. One folder around
everything (what "Compress" on a folder makes: `fruit/ripe/a.jpg`) is taken off first. Then
training_set.py checks the photos themselves.
"""

from __future__ import annotations

import os

from recognizer.custom.errors import TooManyPhotos, TrainingSetRefused
from recognizer.custom.photos import LabelledPhoto
from recognizer.custom.training_set import TrainingLimits, check_training_set, checked_label
from recognizer.inference.errors import shown
from recognizer.jobs.archives import ArchiveEntry, ArchiveLimits, open_archive

LISTED = 5


def photos_from_archive(
    path: str | os.PathLike[str], *, archive_limits: ArchiveLimits, limits: TrainingLimits
) -> list[LabelledPhoto]:
    """The zip's photos labelled by their folder, or TrainingSetRefused / TooManyPhotos / ArchiveRefused."""
    with open_archive(path, archive_limits) as archive:
        if archive.entry_count > limits.max_photos:
            raise TooManyPhotos(
                f"Expected at most {limits.max_photos:,} photos in all. Received a zip of {archive.entry_count:,} files"
            )
        folders = archive.folders()
        entries = list(archive.entries())
    root = _wrapping_folder(entries)
    if root is not None:
        entries = [_unwrapped(entry) for entry in entries]
        folders = [folder[1:] for folder in folders if folder[:1] == (root,) and len(folder) > 1]
    _check_layout(entries, folders)
    photos = [
        LabelledPhoto(label=checked_label(entry.folders[0]), name=entry.name, data=entry.data)
        for entry in entries
        if entry.data is not None
    ]
    check_training_set(photos, limits)
    return photos


def _wrapping_folder(entries: list[ArchiveEntry]) -> str | None:
    """The one folder every file sits at least two levels under, if there is one."""
    roots = {entry.folders[0] if len(entry.folders) >= 2 else None for entry in entries}
    return next(iter(roots)) if len(roots) == 1 else None


def _unwrapped(entry: ArchiveEntry) -> ArchiveEntry:
    return ArchiveEntry(
        index=entry.index, name=entry.name, folders=entry.folders[1:], data=entry.data, error=entry.error
    )


def _check_layout(entries: list[ArchiveEntry], folders: list[tuple[str, ...]]) -> None:
    if not entries:
        raise TrainingSetRefused("Expected a .zip with one folder of photos per class. Received a zip without files")
    top_level = [_file_name(entry) for entry in entries if not entry.folders]
    if top_level:
        raise TrainingSetRefused(
            "Expected every photo inside a class folder (one folder per class at the top of the zip). "
            f"Received {len(top_level)} file{_s(top_level)} at the top level: {_listed(top_level)}"
        )
    nested = sorted({"/".join(entry.folders) + "/" for entry in entries if len(entry.folders) > 1})
    nested += sorted({"/".join(folder) + "/" for folder in folders if len(folder) > 1} - set(nested))
    if nested:
        raise TrainingSetRefused(
            "Expected one level of folders, one per class, with the photos directly inside. "
            f"Received nested folder{_s(nested)}: {_listed(nested)}"
        )
    filled = {entry.folders[0] for entry in entries}
    empty = sorted({folder[0] + "/" for folder in folders if len(folder) == 1 and folder[0] not in filled})
    if empty:
        raise TrainingSetRefused(
            f"Expected photos in every class folder. Received {len(empty)} empty folder{_s(empty)}: {_listed(empty)}"
        )
    unreadable = [f"{_file_name(entry)} ({entry.error})" for entry in entries if entry.error is not None]
    if unreadable:
        raise TrainingSetRefused(
            f"Expected only photos in the class folders. Received {len(unreadable)} file{_s(unreadable)} that "
            f"could not be read: {_listed(unreadable)}"
        )


def _file_name(entry: ArchiveEntry) -> str:
    return shown(entry.name)


def _listed(items: list[str]) -> str:
    more = len(items) - LISTED
    return ", ".join(items[:LISTED]) + (f" and {more} more" if more > 0 else "")


def _s(items: list[str]) -> str:
    return "s" if len(items) != 1 else ""
