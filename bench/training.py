"""Train a two-class head (50 photos a class) on EfficientNet-Lite0, as a custom model would be trained.

    .venv/bin/python -m bench.training

Prints the time to compute the features (each photo and its 7 augmented copies through the frozen
backbone), the time to train the head, their sum against the 60 s target, and the validation
accuracy. The photos are crops of the brick and gravel textures in the scikit-image wheel.
"""

from __future__ import annotations

import time

from recognizer.custom.training import LabelledPhoto, train_head
from recognizer.inference.catalog import SPECS_BY_NAME
from recognizer.inference.registry import ModelRegistry
from tests.custom.test_training import texture_crops

PER_CLASS = 50
TARGET_S = 60.0


def main() -> None:
    registry = ModelRegistry([SPECS_BY_NAME["efficientnet_lite0"]], weights_mode="imagenet")
    started = time.perf_counter()
    backbone = registry.get("efficientnet_lite0")
    print(f"EfficientNet-Lite0 loaded in {time.perf_counter() - started:.1f} s (not counted)")
    photos = [
        LabelledPhoto(label=label, name=f"{label}-{i}.jpg", data=data)
        for label, source in (("brick", "brick.png"), ("gravel", "gravel.png"))
        for i, data in enumerate(texture_crops(source, count=PER_CLASS, rows=(0.0, 1.0), seed=7))
    ]
    trained = train_head(photos, backbone=backbone)
    total = trained.seconds["features"] + trained.seconds["training"]
    print(f"features of {len(photos)} photos x 8 views: {trained.seconds['features']:.1f} s")
    print(f"head training, {len(trained.history)} epochs (early stopping): {trained.seconds['training']:.1f} s")
    print(f"total {total:.1f} s (target < {TARGET_S:.0f} s: {'met' if total < TARGET_S else 'missed'})")
    print(f"validation accuracy {trained.validation.accuracy:.1%} on {sum(trained.class_balance.values()) // 5} photos")
    registry.close()


if __name__ == "__main__":
    main()
