"""The image files a `classify PATH...` names: files as given, folders walked for images.

A folder is walked recursively in sorted order (so two runs list the same files in the same order),
hidden files and folders (a leading dot) are skipped, files are picked by their first bytes (never by
their name), and a symlinked folder is followed once: one that leads back to a folder already on the
walk is skipped, so a symlink loop ends.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from recognizer.inference.imaging import looks_like_accepted_image

HEAD_BYTES = 16


@dataclass
class Collection:
    files: list[Path] = field(default_factory=list)
    skipped: int = 0  # files in folders that are not images of an accepted format


def collect_images(paths: Iterable[Path]) -> Collection:
    """Every file named, and every image under every folder named, in order."""
    collection = Collection()
    for path in paths:
        if _is_folder(path):
            for candidate in _walk(path, visited=set()):
                if _starts_like_an_image(candidate):
                    collection.files.append(candidate)
                else:
                    collection.skipped += 1
        else:
            collection.files.append(path)  # a file named by hand is classified, or reported, as it is
    return collection


def _is_folder(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # a name too long, say: classify reports it when it reads the file
        return False


def _walk(folder: Path, *, visited: set[tuple[int, int]]) -> Iterator[Path]:
    try:
        identity = folder.stat()
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError:
        return
    key = (identity.st_dev, identity.st_ino)
    if key in visited:  # a symlink back up the walk
        return
    visited = visited | {key}
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            if entry.is_dir():
                yield from _walk(path, visited=visited)
            elif entry.is_file():
                yield path
        except OSError:
            continue


def _starts_like_an_image(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            return looks_like_accepted_image(file.read(HEAD_BYTES))
    except OSError:
        return False
