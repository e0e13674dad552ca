"""Models from `keras.applications`: a constructor and its family's `preprocess_input`.

Keras (and so TensorFlow) is imported only when a model is built or used, never at import time,
so management commands such as `migrate` stay fast and build nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from recognizer.inference.zoo.numpy_init import build_with_numpy_init

if TYPE_CHECKING:
    import keras

# Called as build(weights_path, cache_dir=...): a weights file (None: random) and a folder for derived files.
Builder = Callable[..., "keras.Model"]
Preprocessor = Callable[[np.ndarray], np.ndarray]


def application_builder(constructor_name: str) -> Builder:
    """`keras.applications.<constructor_name>` with ImageNet weights from a file, or random (None).

    The initial weights are drawn by NumPy (`numpy_init`: TensorFlow's own draw leaves its temporaries in
    oneDNN's memory pool for good), and are zeros when a file's weights replace them right after, as the
    constructor itself would load them (`model.load_weights`)."""

    def build(weights_path: Path | None, *, cache_dir: Path) -> keras.Model:
        import keras

        constructor = getattr(keras.applications, constructor_name)
        model = build_with_numpy_init(lambda: constructor(weights=None), zeros=weights_path is not None)
        if weights_path is not None:
            model.load_weights(str(weights_path))
        return model

    return build


def application_preprocessor(module_name: str) -> Preprocessor:
    """`keras.applications.<module_name>.preprocess_input` on RGB pixels in 0..255, without mutating them."""

    def preprocess(pixels: np.ndarray) -> np.ndarray:
        import keras

        family = getattr(keras.applications, module_name)
        return family.preprocess_input(np.array(pixels, dtype=np.float32, copy=True))

    return preprocess
