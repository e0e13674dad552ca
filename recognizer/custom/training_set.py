"""Whether labelled photos make a training set, checked before anything is stored.

The same checks for a zip (archive.py) and for the Train page's drop boxes: at least two classes of at
least `MIN_PHOTOS_PER_CLASS` photos, every file an image (its header read, no pixel decoded), no photo
(the same bytes) in two classes, and the server's limits on classes and photos. Each refusal names what
arrived, so the person can fix the set; none is a traceback.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from recognizer.custom.errors import TooManyPhotos, TrainingSetRefused
from recognizer.custom.photos import LabelledPhoto
from recognizer.inference.errors import RecognizerError, shown
from recognizer.inference.imaging import ACCEPTED_DESCRIPTION, decoded_pixel_count

MIN_CLASSES = 2
MIN_PHOTOS_PER_CLASS = 5
MAX_LABEL_CHARS = 64
# How many offending files a message lists before saying "and N more".
LISTED = 5
_LABEL = re.compile(r"[^\x00-\x1f\x7f/\\]{1,64}")


@dataclass(frozen=True)
class TrainingLimits:
    max_classes: int = 20
    max_photos: int = 2000
    max_pixels: int = 40_000_000


def checked_label(label: str) -> str:
    """A class name: 1 to 64 characters, no slash, backslash or control character, spaces trimmed."""
    label = label.strip()
    if not _LABEL.fullmatch(label):
        raise TrainingSetRefused(
            f"Expected a class name of 1 to {MAX_LABEL_CHARS} characters without slashes or control characters. "
            f"Received {shown(label)}"
        )
    return label


def check_training_set(photos: Sequence[LabelledPhoto], limits: TrainingLimits) -> None:
    """Raise TrainingSetRefused (400) or TooManyPhotos (413) naming what is wrong; return if the set can train."""
    by_class: dict[str, list[LabelledPhoto]] = defaultdict(list)
    for photo in photos:
        by_class[photo.label].append(photo)
    if len(by_class) > limits.max_classes:
        raise TooManyPhotos(f"Expected at most {limits.max_classes} classes. Received {len(by_class)}")
    if len(photos) > limits.max_photos:
        raise TooManyPhotos(f"Expected at most {limits.max_photos:,} photos in all. Received {len(photos):,}")
    if len(by_class) < MIN_CLASSES:
        received = f"1 class ({shown(next(iter(by_class)))})" if by_class else "no photos"
        raise TrainingSetRefused(f"Expected at least {MIN_CLASSES} classes of photos. Received {received}")
    too_few = {label: len(members) for label, members in by_class.items() if len(members) < MIN_PHOTOS_PER_CLASS}
    if too_few:
        listed = ", ".join(f"{shown(label)} has {count}" for label, count in sorted(too_few.items()))
        raise TrainingSetRefused(f"Expected at least {MIN_PHOTOS_PER_CLASS} photos in each class. Received: {listed}")
    _check_images(photos, limits.max_pixels)
    _check_no_photo_in_two_classes(photos)


def _check_images(photos: Sequence[LabelledPhoto], max_pixels: int) -> None:
    refused = []
    for photo in photos:
        try:
            decoded_pixel_count(photo.data, max_pixels=max_pixels)
        except RecognizerError as error:
            refused.append(f"{shown(photo.name)} ({_reason(error)})")
    if refused:
        raise TrainingSetRefused(
            f"Expected only photos ({ACCEPTED_DESCRIPTION}). Received {len(refused)} other file"
            f"{'s' if len(refused) != 1 else ''}: {_listed(refused)}"
        )


def _reason(error: RecognizerError) -> str:
    """The part of a decoder's message after `Received`: what the file turned out to be."""
    text = str(error)
    return text.split("Received ", 1)[1].rstrip(".") if "Received " in text else text


def _check_no_photo_in_two_classes(photos: Sequence[LabelledPhoto]) -> None:
    classes_of: dict[str, set[str]] = defaultdict(set)
    names_of: dict[str, list[str]] = defaultdict(list)
    for photo in photos:
        classes_of[photo.sha256].add(photo.label)
        names_of[photo.sha256].append(photo.name)
    clashes = [
        " and ".join(shown(name) for name in names_of[digest])
        for digest, labels in classes_of.items()
        if len(labels) > 1
    ]
    if clashes:
        raise TrainingSetRefused(
            "Expected each photo in one class only. Received the same photo in two classes: " + _listed(clashes)
        )


def _listed(items: list[str]) -> str:
    more = len(items) - LISTED
    return "; ".join(items[:LISTED]) + (f"; and {more} more" if more > 0 else "")
