"""What makes a training set, and the refusals that name what arrived."""

from __future__ import annotations

import pytest

from recognizer.custom.errors import TooManyPhotos, TrainingSetRefused
from recognizer.custom.training import LabelledPhoto
from recognizer.custom.training_set import TrainingLimits, check_training_set, checked_label
from tests.custom.helpers import texture_set

LIMITS = TrainingLimits(max_classes=3, max_photos=40)


def test_two_classes_of_five_photos_train() -> None:
    check_training_set(texture_set(5), LIMITS)


def test_one_class_is_refused_naming_it() -> None:
    with pytest.raises(TrainingSetRefused, match="at least 2 classes of photos. Received 1 class \\('brick'\\)"):
        check_training_set([photo for photo in texture_set(5) if photo.label == "brick"], LIMITS)


def test_a_class_with_too_few_photos_is_named_with_its_count() -> None:
    photos = texture_set(5)[:-1]  # gravel keeps 4
    with pytest.raises(TrainingSetRefused, match="at least 5 photos in each class. Received: 'gravel' has 4"):
        check_training_set(photos, LIMITS)


def test_files_that_are_not_photos_are_named() -> None:
    photos = [*texture_set(5), LabelledPhoto(label="brick", name="brick/notes.txt", data=b"just some words\n")]
    with pytest.raises(TrainingSetRefused, match="Received 1 other file: 'brick/notes.txt' \\(.*text") as refused:
        check_training_set(photos, LIMITS)
    assert refused.value.status == 400


def test_the_same_photo_in_two_classes_is_named_in_both() -> None:
    photos = texture_set(5)
    twin = LabelledPhoto(label="gravel", name="gravel/copy.jpg", data=photos[0].data)
    with pytest.raises(TrainingSetRefused, match="same photo in two classes: 'brick/0.jpg' and 'gravel/copy.jpg'"):
        check_training_set([*photos, twin], LIMITS)


def test_the_same_photo_twice_in_one_class_is_allowed() -> None:
    photos = texture_set(5)
    check_training_set([*photos, LabelledPhoto(label="brick", name="brick/again.jpg", data=photos[0].data)], LIMITS)


def test_more_classes_or_photos_than_the_limits_are_refused_with_413() -> None:
    photos = texture_set(5)
    fourth = [LabelledPhoto(label=f"c{i}", name=f"c{i}/{j}", data=photos[j].data) for i in range(2) for j in range(5)]
    with pytest.raises(TooManyPhotos, match="at most 3 classes. Received 4") as refused:
        check_training_set([*photos, *fourth], LIMITS)
    assert refused.value.status == 413
    with pytest.raises(TooManyPhotos, match="at most 9 photos in all. Received 10"):
        check_training_set(photos, TrainingLimits(max_classes=3, max_photos=9))


@pytest.mark.parametrize("label", ["", "   ", "a/b", "tab\there", "x" * 65])
def test_bad_class_names_are_refused(label: str) -> None:
    with pytest.raises(TrainingSetRefused, match="Expected a class name of 1 to 64 characters"):
        checked_label(label)


def test_a_class_name_keeps_spaces_inside_and_loses_them_around() -> None:
    assert checked_label("  ripe mango ") == "ripe mango"
