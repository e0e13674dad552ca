"""A training set from a multipart upload: one zip (the API and the Train page), or the Train page's drop
boxes, one per class, each with its class name. The upload handler (ops/uploads.py) has streamed every
file to a temporary file; each is read here and closed (which removes it), whatever happens."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.files.uploadedfile import UploadedFile

from recognizer.custom.archive import photos_from_archive
from recognizer.custom.errors import TrainingSetRefused
from recognizer.custom.photos import LabelledPhoto
from recognizer.custom.services import training_limits
from recognizer.custom.training_set import check_training_set, checked_label
from recognizer.inference.errors import ImageTooLarge, InvalidInput, shown
from recognizer.jobs.archives import MIB
from recognizer.jobs.services import archive_limits


def photos_from_zip_upload(archive: UploadedFile) -> list[LabelledPhoto]:
    try:
        temporary_file_path = getattr(archive, "temporary_file_path", None)
        if temporary_file_path is None:  # an upload small enough to stay in memory in another handler
            raise InvalidInput("Expected the archive to be streamed to disk. Received it in memory")
        return photos_from_archive(temporary_file_path(), archive_limits=archive_limits(), limits=training_limits())
    finally:
        archive.close()  # a temporary upload file is deleted when closed


def photos_from_class_uploads(classes: Sequence[tuple[str, Sequence[UploadedFile]]], *, max_photo_bytes: int
                              ) -> list[LabelledPhoto]:  # fmt: skip
    """`[(class name, its files), ...]` from the drop boxes; a box with files needs a name, and names differ."""
    try:
        photos: list[LabelledPhoto] = []
        seen: set[str] = set()
        for number, (typed, files) in enumerate(classes, start=1):
            if not typed.strip() and not files:
                continue
            if not typed.strip():
                raise TrainingSetRefused(
                    f"Expected a name for class {number}. Received {len(files)} photos without one"
                )
            label = checked_label(typed)
            if label in seen:
                raise TrainingSetRefused(f"Expected a different name for each class. Received {shown(label)} twice")
            seen.add(label)
            photos += [_photo(label, file, max_photo_bytes) for file in files]
        check_training_set(photos, training_limits())
        return photos
    finally:
        for _, files in classes:
            for file in files:
                file.close()


def _photo(label: str, file: UploadedFile, max_photo_bytes: int) -> LabelledPhoto:
    name = (file.name or "photo").rsplit("/", 1)[-1]
    if file.size is not None and file.size > max_photo_bytes:
        raise ImageTooLarge(
            f"Expected photos of at most {max_photo_bytes // MIB} MB. "
            f"Received {shown(name)} of {file.size / MIB:.1f} MB"
        )
    file.seek(0)
    return LabelledPhoto(label=label, name=f"{label}/{name}", data=file.read())
