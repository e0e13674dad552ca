"""A training set from a zip of one folder per class: the layouts refused, by name, and the one folder
around everything taken off."""

from __future__ import annotations

from pathlib import Path

import pytest

from recognizer.custom.archive import photos_from_archive
from recognizer.custom.errors import TooManyPhotos, TrainingSetRefused
from recognizer.custom.training_set import TrainingLimits
from recognizer.jobs.archives import ArchiveLimits, CorruptArchive
from tests.custom.helpers import texture_set, zip_of

LIMITS = TrainingLimits(max_classes=5, max_photos=30)


def read(tmp_path: Path, entries: list[tuple[str, bytes]]) -> list[tuple[str, str]]:
    path = tmp_path / "set.zip"
    path.write_bytes(zip_of(entries))
    photos = photos_from_archive(path, archive_limits=ArchiveLimits(), limits=LIMITS)
    return [(photo.label, photo.name) for photo in photos]


def entries(prefix: str = "") -> list[tuple[str, bytes]]:
    return [(f"{prefix}{photo.name}", photo.data) for photo in texture_set(5)]


def test_each_folder_is_a_class(tmp_path: Path) -> None:
    photos = read(tmp_path, entries())
    assert photos[0] == ("brick", "brick/0.jpg") and photos[-1] == ("gravel", "gravel/4.jpg") and len(photos) == 10


def test_one_folder_around_everything_is_taken_off(tmp_path: Path) -> None:
    photos = read(tmp_path, [("textures/", b""), *entries("textures/")])
    assert {label for label, _ in photos} == {"brick", "gravel"}


def test_files_at_the_top_level_are_named(tmp_path: Path) -> None:
    with pytest.raises(TrainingSetRefused, match="Received 1 file at the top level: 'readme.jpg'"):
        read(tmp_path, [*entries(), ("readme.jpg", texture_set(5)[0].data)])


def test_nested_folders_are_named(tmp_path: Path) -> None:
    with pytest.raises(TrainingSetRefused, match="Received nested folder: brick/old/"):
        read(tmp_path, [*entries(), ("brick/old/1.jpg", b"x")])


def test_an_empty_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(TrainingSetRefused, match="Received 1 empty folder: sand/"):
        read(tmp_path, [*entries(), ("sand/", b"")])


def test_unreadable_entries_are_named_with_why(tmp_path: Path) -> None:
    with pytest.raises(TrainingSetRefused, match="could not be read: 'brick/inner.zip' \\(.*nested archives"):
        read(tmp_path, [*entries(), ("brick/inner.zip", zip_of([("a.txt", b"a")]))])


def test_non_images_in_a_class_folder_are_named(tmp_path: Path) -> None:
    with pytest.raises(TrainingSetRefused, match="Received 1 other file: 'gravel/notes.txt'"):
        read(tmp_path, [*entries(), ("gravel/notes.txt", b"a note\n")])


def test_a_zip_of_more_files_than_photos_allowed_is_refused_before_reading(tmp_path: Path) -> None:
    many = [(f"c{i % 2}/{i}.jpg", b"x") for i in range(31)]
    with pytest.raises(TooManyPhotos, match="at most 30 photos in all. Received a zip of 31 files"):
        read(tmp_path, many)


def test_not_a_zip_is_refused_by_the_archive_checks(tmp_path: Path) -> None:
    path = tmp_path / "set.zip"
    path.write_bytes(b"")
    with pytest.raises(CorruptArchive):
        photos_from_archive(path, archive_limits=ArchiveLimits(), limits=LIMITS)
