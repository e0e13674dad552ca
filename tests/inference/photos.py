"""Real photos from the scikit-image and matplotlib wheels, prepared as the app does (squashed, not cropped)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import skimage
from PIL import Image

from recognizer.inference.imaging import resize_to_array
from recognizer.inference.zoo.efficientnet_lite import INPUT_SIZE, preprocess_input

SKIMAGE_DATA = Path(skimage.__file__).parent / "data"
CHELSEA = SKIMAGE_DATA / "chelsea.png"
COFFEE = SKIMAGE_DATA / "coffee.png"
# Crops of each photo (left, top, right, bottom as fractions): the quarters and a centre; the calibration
# (recognizer/inference/calibration.py) uses the whole, the centre at 70% and two halves instead.
HELD_OUT_CROPS = ((0, 0, 0.5, 0.5), (0.5, 0, 1, 0.5), (0, 0.5, 0.5, 1), (0.5, 0.5, 1, 1), (0.125, 0.125, 0.875, 0.875))


def open_rgb(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def model_batch(photo: Image.Image) -> np.ndarray:
    """The whole photo squashed to the input size, preprocessed for EfficientNet-Lite0, batch of one."""
    resized = photo.resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR)
    return preprocess_input(np.asarray(resized, dtype=np.float32)[np.newaxis])


def held_out_views(size: int) -> list[np.ndarray]:
    """Every photo in the scikit-image and matplotlib wheels, whole and as the held-out crops."""
    paths = sorted([*SKIMAGE_DATA.glob("*.png"), *SKIMAGE_DATA.glob("*.jpg")])
    paths.append(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")
    views = []
    for path in paths:
        photo = open_rgb(path)
        width, height = photo.size
        views.append(resize_to_array(photo, size))
        for left, top, right, bottom in HELD_OUT_CROPS:
            box = (round(left * width), round(top * height), round(right * width), round(bottom * height))
            views.append(resize_to_array(photo.crop(box), size))
    return views
