from __future__ import annotations

import numpy as np
from PIL import Image

from recognizer.inference.imaging import decode_image, resize_to_array
from tests.images import encode, png_bytes, scene_rgb

MAX_PIXELS = 40_000_000


def noisy_photo(width: int, height: int) -> Image.Image:
    """The test scene with sensor-like noise, so fine detail is there to lose."""
    rng = np.random.default_rng(7)
    pixels = np.asarray(scene_rgb(width, height), dtype=np.int16) + rng.integers(-25, 25, size=(height, width, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def test_a_large_jpeg_is_decoded_smaller_without_visible_loss_at_224() -> None:
    data = encode(noisy_photo(2048, 1536), "JPEG", quality=90)
    full = decode_image(data, max_pixels=MAX_PIXELS)
    fast = decode_image(data, max_pixels=MAX_PIXELS, target_size=224)
    assert full.size == (2048, 1536)
    assert fast.size == (512, 384)  # 1/8 would make the short side 192 < 224, so 1/4
    difference = np.abs(resize_to_array(full, 224) - resize_to_array(fast, 224))
    assert difference.mean() < 1.5  # grey levels out of 255


def test_the_fast_path_never_goes_below_the_model_input() -> None:
    data = encode(noisy_photo(500, 300), "JPEG")
    fast = decode_image(data, max_pixels=MAX_PIXELS, target_size=224)
    assert min(fast.size) >= 224
    assert fast.size == (500, 300)  # half would be 150 px high: decoded in full


def test_other_formats_ignore_the_target_size() -> None:
    image = decode_image(png_bytes(1024, 768), max_pixels=MAX_PIXELS, target_size=224)
    assert image.size == (1024, 768)
