"""Real photos from the scikit-image wheel, prepared for EfficientNet-Lite0 as the app does (squashed, not cropped)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import skimage
from PIL import Image

from recognizer.inference.zoo.efficientnet_lite import INPUT_SIZE, preprocess_input

SKIMAGE_DATA = Path(skimage.__file__).parent / "data"
CHELSEA = SKIMAGE_DATA / "chelsea.png"
COFFEE = SKIMAGE_DATA / "coffee.png"


def open_rgb(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def model_batch(photo: Image.Image) -> np.ndarray:
    """The whole photo squashed to the input size, preprocessed for EfficientNet-Lite0, batch of one."""
    resized = photo.resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR)
    return preprocess_input(np.asarray(resized, dtype=np.float32)[np.newaxis])
