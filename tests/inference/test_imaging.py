from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from recognizer.inference.catalog import SPECS_BY_NAME
from recognizer.inference.errors import ImageTooLarge, InvalidInput
from recognizer.inference.imaging import (
    decode_image,
    decode_model_input,
    encode_model_input,
    encode_thumbnail,
    model_input_png,
    resize_to_array,
)
from tests.images import encode, png_bytes, scene_rgb

MAX_PIXELS = 40_000_000


def decoded_array(data: bytes) -> np.ndarray:
    return resize_to_array(decode_image(data, max_pixels=MAX_PIXELS), 224)


def p_with_transparency() -> Image.Image:
    image = scene_rgb().convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    image.info["transparency"] = 0
    return image


def sixteen_bit_gray() -> Image.Image:
    ramp = (np.linspace(0, 65535, 320 * 240).reshape(240, 320)).astype(np.uint16)
    return Image.fromarray(ramp)


@pytest.mark.parametrize(
    ("mode_name", "image", "fmt"),
    [
        ("RGB", scene_rgb(), "PNG"),
        ("RGBA", scene_rgb().convert("RGBA"), "PNG"),
        ("LA", scene_rgb().convert("LA"), "PNG"),
        ("L", scene_rgb().convert("L"), "PNG"),
        ("P+transparency", p_with_transparency(), "PNG"),
        ("CMYK", scene_rgb().convert("CMYK"), "JPEG"),
        ("I;16", sixteen_bit_gray(), "PNG"),
    ],
)
def test_every_mode_becomes_a_224x224_rgb_array(mode_name: str, image: Image.Image, fmt: str) -> None:
    array = decoded_array(encode(image, fmt))
    assert array.shape == (224, 224, 3)
    assert array.dtype == np.float32
    assert 0.0 <= array.min() and array.max() <= 255.0


def test_sixteen_bit_images_are_rescaled_not_clamped_white() -> None:
    array = decoded_array(encode(sixteen_bit_gray(), "PNG"))
    # A ramp from black to white: about half the pixels are darker than mid-grey.
    assert 0.4 < (array < 128).mean() < 0.6


def test_transparent_pixels_become_white() -> None:
    clear = Image.new("RGBA", (50, 50), (0, 0, 0, 0))
    array = decoded_array(encode(clear, "PNG"))
    assert np.all(array == 255.0)


def test_exif_orientation_6_gives_the_upright_array() -> None:
    upright = scene_rgb()
    stored_sideways = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    sideways_bytes = encode(stored_sideways, "PNG", exif=exif.tobytes())
    np.testing.assert_array_equal(decoded_array(sideways_bytes), decoded_array(encode(upright, "PNG")))


def test_our_preprocessing_equals_keras_resnet50_preprocess_input() -> None:
    from keras.applications.resnet50 import preprocess_input

    pixels = decoded_array(png_bytes())
    ours = SPECS_BY_NAME["resnet50"].preprocess(pixels[None, ...])
    np.testing.assert_allclose(ours, preprocess_input(pixels[None, ...].copy()), rtol=0, atol=1e-5)
    # Caffe style: BGR order, ImageNet mean subtracted.
    assert ours[0, 0, 0, 0] == pytest.approx(pixels[0, 0, 2] - 103.939, abs=1e-3)


def test_preprocessing_does_not_change_its_input() -> None:
    pixels = decoded_array(png_bytes())
    before = pixels.copy()
    SPECS_BY_NAME["vgg19"].preprocess(pixels[None, ...])
    np.testing.assert_array_equal(pixels, before)


def test_too_many_pixels_is_refused_before_decoding() -> None:
    with pytest.raises(ImageTooLarge, match="Received 320x240 = 76,800 pixels"):
        decode_image(png_bytes(), max_pixels=10_000)


def test_thumbnail_is_small_and_has_no_metadata() -> None:
    exif = Image.Exif()
    exif[0x010F] = "SecretCameraMaker"
    image = decode_image(encode(scene_rgb(1024, 768), "JPEG", exif=exif.tobytes()), max_pixels=MAX_PIXELS)
    thumbnail = encode_thumbnail(image)
    assert b"SecretCameraMaker" not in thumbnail
    assert max(Image.open(io.BytesIO(thumbnail)).size) == 256


@pytest.mark.parametrize(
    ("size", "thumbnail_size"),
    [
        ((500, 375), (250, 188)),  # halved by the box filter
        ((375, 500), (188, 250)),
        ((1000, 700), (250, 175)),  # a quarter
        ((300, 200), (256, 171)),  # a half would be 150: resampled to the full side instead
        ((520, 390), (256, 192)),  # a third would be 174: resampled
        ((200, 120), (200, 120)),  # small enough already
    ],
)
def test_thumbnail_is_a_whole_factor_smaller_when_that_keeps_three_quarters_of_the_side(
    size: tuple[int, int], thumbnail_size: tuple[int, int]
) -> None:
    with Image.open(io.BytesIO(encode_thumbnail(scene_rgb(*size)))) as thumbnail:
        assert (thumbnail.format, thumbnail.size) == ("JPEG", thumbnail_size)


def test_a_stored_model_input_gives_back_exactly_what_the_model_saw_and_shows_as_that_png() -> None:
    seen = decoded_array(png_bytes())
    stored = encode_model_input(seen)
    assert len(stored) == 224 * 224 * 3
    assert np.array_equal(decode_model_input(stored, size=224), np.rint(seen))
    with Image.open(io.BytesIO(model_input_png(stored))) as shown:
        assert (shown.format, shown.size) == ("PNG", (224, 224))
        assert np.array_equal(np.asarray(shown, dtype=np.float32), np.rint(seen))


def test_a_model_input_stored_as_a_png_by_an_earlier_version_still_decodes_and_shows() -> None:
    seen = decoded_array(png_bytes())
    earlier = encode(Image.fromarray(np.rint(seen).astype(np.uint8), mode="RGB"), "PNG")
    assert np.array_equal(decode_model_input(earlier, size=224), np.rint(seen))
    assert model_input_png(earlier) == earlier


def test_a_stored_model_input_of_the_wrong_size_is_refused_with_both_sizes() -> None:
    stored = encode_model_input(np.zeros((100, 100, 3), dtype=np.float32))
    expected = r"Expected a 224 x 224 RGB model input \(150528 bytes\)\. Received 30000 bytes"
    with pytest.raises(InvalidInput, match=expected):
        decode_model_input(stored, size=224)
    with pytest.raises(InvalidInput, match="Expected a square RGB model input. Received 5 bytes"):
        model_input_png(b"12345")
