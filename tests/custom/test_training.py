"""Training a head on a frozen backbone: the split, the report, the copies, and a known answer with
EfficientNet-Lite0's real weights on textures from the scikit-image wheel."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import keras
import numpy as np
import pytest
import skimage
from PIL import Image

from recognizer.custom.training import (
    LabelledPhoto,
    TrainingOptions,
    augmented_inputs,
    classifier,
    feature_model,
    stratified_split,
    train_head,
    validation_report,
)
from recognizer.inference.registry import ModelRegistry

SKIMAGE_DATA = Path(skimage.__file__).parent / "data"


def test_the_split_keeps_each_class_share_and_never_empties_a_class() -> None:
    labels = [0] * 50 + [1] * 50 + [2] * 6
    train, validate = stratified_split(labels, share=0.2, seed=3)
    assert sorted(train + validate) == list(range(len(labels)))
    assert [sum(labels[i] == c for i in validate) for c in (0, 1, 2)] == [10, 10, 1]
    assert stratified_split(labels, share=0.2, seed=3) == (train, validate)  # reproducible


def test_the_report_counts_precision_recall_and_the_confusion_matrix() -> None:
    truth = np.array([0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 0, 1, 1, 1, 0])
    report = validation_report(truth, predicted, ["ripe", "unripe", "rotten"])
    assert report.confusion == [[2, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert report.accuracy == pytest.approx(4 / 6)
    assert report.per_class["ripe"] == {"precision": pytest.approx(2 / 3), "recall": pytest.approx(2 / 3), "support": 3}
    assert report.per_class["rotten"] == {"precision": 0.0, "recall": 0.0, "support": 1}


def test_each_photo_gives_itself_its_mirror_and_mirrored_crops() -> None:
    ramp = Image.fromarray(np.tile(np.arange(200, dtype=np.uint8), (100, 1)), "L").convert("RGB")
    views = augmented_inputs(ramp, 32)
    assert len(views) == 8 and all(view.shape == (32, 32, 3) for view in views)
    np.testing.assert_array_equal(views[1], views[0][:, ::-1, :])
    assert views[2][0, 0, 0] > views[0][0, 0, 0]  # a centred crop starts right of the left edge


def test_the_servable_model_is_the_backbone_features_into_the_head() -> None:
    inputs = keras.Input((8, 8, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    backbone = keras.Model(inputs, keras.layers.Dense(1000, activation="softmax")(pooled))
    head = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    combined = classifier(backbone, head)
    batch = np.random.default_rng(0).uniform(size=(4, 8, 8, 3)).astype(np.float32)
    assert feature_model(backbone).output.shape[-1] == 3
    np.testing.assert_allclose(combined(batch), head(batch.mean(axis=(1, 2))), rtol=1e-5)


def texture_crops(photo: str, *, count: int, rows: tuple[float, float], seed: int) -> list[bytes]:
    """JPEG crops (random size and place, some mirrored) from a band of rows of a photo."""
    image = Image.open(SKIMAGE_DATA / photo).convert("RGB")
    width, height = image.size
    top, bottom = round(height * rows[0]), round(height * rows[1])
    rng = np.random.default_rng(seed)
    crops = []
    for _ in range(count):
        side = int(rng.integers(60, min(160, bottom - top)))
        left = int(rng.integers(0, width - side))
        upper = int(rng.integers(top, bottom - side))
        crop = image.crop((left, upper, left + side, upper + side))
        if rng.random() < 0.5:
            crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        buffer = io.BytesIO()
        crop.save(buffer, "JPEG", quality=90)
        crops.append(buffer.getvalue())
    return crops


@pytest.mark.slow
def test_brick_and_gravel_are_told_apart_on_crops_the_head_never_saw(registry: ModelRegistry) -> None:
    backbone = registry.get("efficientnet_lite0")  # the wheel's real ImageNet weights
    photos = [
        LabelledPhoto(label=label, name=f"{label}-{i}.jpg", data=data)
        for label, source in (("brick", "brick.png"), ("gravel", "gravel.png"))
        for i, data in enumerate(texture_crops(source, count=20, rows=(0.0, 0.6), seed=1))
    ]
    epochs: list[tuple[int, float, float]] = []
    trained = train_head(photos, backbone=backbone, options=TrainingOptions(), on_epoch=lambda *row: epochs.append(row))
    assert trained.classes == ["brick", "gravel"]
    assert trained.class_balance == {"brick": 20, "gravel": 20}
    assert len(epochs) == len(trained.history) and epochs[0][0] == 1

    servable = classifier(backbone.compiled.model, trained.head)
    unseen = {
        label: texture_crops(source, count=20, rows=(0.6, 1.0), seed=2)  # rows the training crops never touched
        for label, source in (("brick", "brick.png"), ("gravel", "gravel.png"))
    }
    right = 0
    for label, crops in unseen.items():
        for data in crops:
            pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB").resize((224, 224)), dtype=np.float32)
            scores = np.asarray(servable(backbone.preprocess(pixels[None, ...]), training=False))[0]
            right += trained.classes[int(np.argmax(scores))] == label
    assert right / 40 >= 0.95


@pytest.mark.slow
def test_two_trainings_at_once_each_give_the_head_they_give_alone(registry: ModelRegistry) -> None:
    # A batch worker runs two tasks at once: seeding is process-wide, so the fits must not interleave.
    backbone = registry.get("efficientnet_lite0")
    photos = [
        LabelledPhoto(label=label, name=f"{label}-{i}.jpg", data=data)
        for label, source in (("brick", "brick.png"), ("gravel", "gravel.png"))
        for i, data in enumerate(texture_crops(source, count=6, rows=(0.0, 0.6), seed=3))
    ]
    cache: dict[str, np.ndarray] = {}
    options = [TrainingOptions(seed=seed, max_epochs=8, patience=8) for seed in (1, 2)]
    alone = [train_head(photos, backbone=backbone, options=option, feature_cache=cache) for option in options]
    together: dict[int, list[np.ndarray]] = {}

    def train(index: int) -> None:
        trained = train_head(photos, backbone=backbone, options=options[index], feature_cache=cache)
        together[index] = trained.head.get_weights()

    threads = [threading.Thread(target=train, args=(index,)) for index in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert sorted(together) == [0, 1]
    assert not all(np.array_equal(a, b) for a, b in zip(together[0], together[1], strict=True))  # two seeds
    for index, trained in enumerate(alone):
        for got, want in zip(together[index], trained.head.get_weights(), strict=True):
            np.testing.assert_array_equal(got, want)
