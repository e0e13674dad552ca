"""A training set from the Train page's class boxes: names typed, photos chosen, every file closed."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from recognizer.custom.errors import TrainingSetRefused
from recognizer.custom.uploads import photos_from_class_uploads
from recognizer.inference.errors import ImageTooLarge
from tests.custom.helpers import texture_set


def boxes(*names: str) -> list[tuple[str, list[SimpleUploadedFile]]]:
    photos = texture_set(5)
    return [
        (
            name,
            [SimpleUploadedFile(f"{index}.jpg", photo.data) for index, photo in enumerate(photos[5 * i : 5 * i + 5])],
        )
        for i, name in enumerate(names)
    ]


def test_each_box_is_a_class_named_as_typed_and_every_file_is_closed() -> None:
    given = [*boxes("brick", " gravel "), ("", [])]
    photos = photos_from_class_uploads(given, max_photo_bytes=10_000_000)
    assert [(photo.label, photo.name) for photo in photos[4:6]] == [
        ("brick", "brick/4.jpg"),
        ("gravel", "gravel/0.jpg"),
    ]
    assert all(file.closed for _, files in given for file in files)


def test_a_photo_over_the_cap_is_named_with_its_size() -> None:
    given = boxes("brick", "gravel")
    with pytest.raises(ImageTooLarge, match="at most 0 MB. Received '0.jpg' of 0.0 MB"):
        photos_from_class_uploads(given, max_photo_bytes=100)
    assert all(file.closed for _, files in given for file in files)


def test_a_box_of_photos_without_a_name_is_refused() -> None:
    with pytest.raises(TrainingSetRefused, match="Expected a name for class 2. Received 5 photos without one"):
        photos_from_class_uploads(boxes("brick", "  "), max_photo_bytes=10_000_000)
