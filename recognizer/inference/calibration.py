"""Real photos to calibrate int8 activation ranges on (IMGREC_PRECISION=fast, see quantized.py).

Random pixels would set ranges no photo reaches, and a few photos alone miss the ranges of other framings;
so each photo is given whole and as crops, mirrored too. The photos ship in wheels the app already installs:
matplotlib's samples always, scikit-image's test photos where the dev requirements are installed (the
calibration's name says which set was used, so a cached quantized model never mixes them up).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from recognizer.inference.imaging import resize_to_array

MATPLOTLIB_PHOTOS = ("grace_hopper.jpg", "Minduka_Present_Blue_Pack.png")
SKIMAGE_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "retina.jpg")
# Crops as (left, top, right, bottom) fractions of the photo: the whole, the centre, two halves.
CROPS = ((0.0, 0.0, 1.0, 1.0), (0.15, 0.15, 0.85, 0.85), (0.0, 0.0, 0.6, 1.0), (0.4, 0.0, 1.0, 1.0))


@dataclass(frozen=True)
class Calibration:
    name: str  # names the photo set, for the cache key of a quantized model
    photos: tuple[Path, ...]

    def batches(self, *, size: int, preprocess: Callable[[np.ndarray], np.ndarray]) -> Iterator[np.ndarray]:
        """Each crop of each photo, mirrored and not, as a preprocessed batch of one."""
        for path in self.photos:
            with Image.open(path) as opened:
                photo = opened.convert("RGB")
            for crop in crop_views(photo):
                for view in (crop, ImageOps.mirror(crop)):
                    yield preprocess(resize_to_array(view, size)[np.newaxis])


def crop_views(photo: Image.Image) -> list[Image.Image]:
    width, height = photo.size
    return [
        photo.crop((round(left * width), round(top * height), round(right * width), round(bottom * height)))
        for left, top, right, bottom in CROPS
    ]


def available_calibration() -> Calibration:
    """matplotlib's sample photos, and scikit-image's where it is installed."""
    import matplotlib

    photos = [Path(matplotlib.get_data_path()) / "sample_data" / name for name in MATPLOTLIB_PHOTOS]
    name = "mpl"
    try:
        import skimage
    except ImportError:
        pass
    else:
        photos += [Path(skimage.__file__).parent / "data" / photo for photo in SKIMAGE_PHOTOS]
        name += "+skimage"
    return Calibration(name=name, photos=tuple(path for path in photos if path.is_file()))
