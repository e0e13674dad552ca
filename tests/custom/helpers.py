"""Training sets for the custom model tests: crops of two textures from the scikit-image wheel, as photos
or as a zip of one folder per class."""

from __future__ import annotations

from recognizer.custom.training import LabelledPhoto
from tests.custom.test_training import texture_crops
from tests.jobs.helpers import zip_of

SOURCES = (("brick", "brick.png"), ("gravel", "gravel.png"))


def texture_set(per_class: int = 6, *, seed: int = 1) -> list[LabelledPhoto]:
    return [
        LabelledPhoto(label=label, name=f"{label}/{index}.jpg", data=data)
        for label, source in SOURCES
        for index, data in enumerate(texture_crops(source, count=per_class, rows=(0.0, 1.0), seed=seed))
    ]


def texture_zip(per_class: int = 6, *, seed: int = 1) -> bytes:
    return zip_of([(photo.name, photo.data) for photo in texture_set(per_class, seed=seed)])
