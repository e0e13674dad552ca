"""Models from `keras.applications`: a constructor and its family's `preprocess_input`.

Keras (and so TensorFlow) is imported only when a model is built or used, never at import time,
so management commands such as `migrate` stay fast and build nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import keras

# Called as build(weights_path, cache_dir=...): a weights file (None: random) and a folder for derived files.
Builder = Callable[..., "keras.Model"]
Preprocessor = Callable[[np.ndarray], np.ndarray]


def application_builder(constructor_name: str) -> Builder:
    """`keras.applications.<constructor_name>` with ImageNet weights from a file, or random (None)."""

    def build(weights_path: Path | None, *, cache_dir: Path) -> keras.Model:
        import keras

        constructor = getattr(keras.applications, constructor_name)
        return constructor(weights=None if weights_path is None else str(weights_path))

    return build


def application_preprocessor(module_name: str) -> Preprocessor:
    """`keras.applications.<module_name>.preprocess_input` on RGB pixels in 0..255, without mutating them."""

    def preprocess(pixels: np.ndarray) -> np.ndarray:
        import keras

        family = getattr(keras.applications, module_name)
        return family.preprocess_input(np.array(pixels, dtype=np.float32, copy=True))

    return preprocess
