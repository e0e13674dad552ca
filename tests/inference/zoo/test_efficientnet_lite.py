from __future__ import annotations

import math
import time
from pathlib import Path

import keras
import matplotlib
import numpy as np
import pytest
import skimage
from PIL import Image

from recognizer.inference.zoo import efficientnet_lite
from recognizer.inference.zoo.efficientnet_lite import (
    INPUT_SIZE,
    build_efficientnet_lite0,
    build_efficientnet_lite0_architecture,
    bundled_weights_path,
    port_torch_state_dict,
    preprocess_input,
)
from recognizer.inference.zoo.torch_checkpoint import read_legacy_state_dict

SKIMAGE_DATA = Path(skimage.__file__).parent / "data"
COFFEE = SKIMAGE_DATA / "coffee.png"
CHELSEA = SKIMAGE_DATA / "chelsea.png"
CAMERA = SKIMAGE_DATA / "camera.png"
GRACE_HOPPER = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"

ESPRESSO = 967
TABBY, TIGER_CAT, EGYPTIAN_CAT = 281, 282, 285
TRIPOD = 872
MILITARY_UNIFORM = 652


def _photo_batch(path: Path) -> np.ndarray:
    """The whole photo as RGB, squashed to the input size, preprocessed, batch of one."""
    with Image.open(path) as image:
        rgb = image.convert("RGB").resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR)
    return preprocess_input(np.asarray(rgb, dtype=np.float32)[np.newaxis])


def _probabilities(model: keras.Model, batch: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(model(batch, training=False))[0]


@pytest.fixture(scope="module")
def weights_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("weights-cache")


@pytest.fixture(scope="module")
def ported_model(weights_cache_dir: Path) -> keras.Model:
    started = time.perf_counter()
    model = build_efficientnet_lite0(bundled_weights_path(), cache_dir=weights_cache_dir)
    print(f"first conversion from .pth: {time.perf_counter() - started:.2f} s")
    return model


def test_random_architecture_outputs_a_distribution() -> None:
    model = build_efficientnet_lite0(None, cache_dir=Path("/nonexistent-never-used"))

    probabilities = _probabilities(model, np.zeros((1, INPUT_SIZE, INPUT_SIZE, 3), np.float32))

    assert probabilities.shape == (1000,)
    assert math.isclose(float(probabilities.sum()), 1.0, rel_tol=1e-5)


def test_preprocess_input_maps_pixels_to_the_training_scale() -> None:
    pixels = np.array([[[[0.0, 127.0, 255.0]]]])

    processed = preprocess_input(pixels)

    assert processed.dtype == np.float32
    np.testing.assert_allclose(processed, [[[[-127 / 128, 0.0, 1.0]]]])


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_preprocess_input_is_exactly_the_float32_formula_and_leaves_its_input_alone(dtype: type) -> None:
    pixels = np.random.default_rng(7).integers(0, 256, size=(2, 8, 8, 3)).astype(dtype)
    before = pixels.copy()

    processed = preprocess_input(pixels)

    expected = (pixels.astype(np.float32) - np.float32(127.0)) / np.float32(128.0)
    assert processed.dtype == np.float32
    np.testing.assert_array_equal(processed, expected)
    np.testing.assert_array_equal(pixels, before)


def test_port_refuses_missing_and_left_over_tensors() -> None:
    state_dict = read_legacy_state_dict(bundled_weights_path())
    model = build_efficientnet_lite0_architecture()

    missing = {k: v for k, v in state_dict.items() if k != "_blocks.4._bn1.running_var"}
    with pytest.raises(ValueError, match="running_var"):
        port_torch_state_dict(model, missing)

    with pytest.raises(ValueError, match="_blocks.99._se_reduce"):
        port_torch_state_dict(model, {**state_dict, "_blocks.99._se_reduce.weight": np.zeros((1,))})
    with pytest.raises(ValueError, match="_fc"):
        port_torch_state_dict(model, {**state_dict, "_fc.extra": np.zeros((1,))})


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "same": the odd pixel of padding goes to the bottom/right."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _numpy_stem(image: np.ndarray, state_dict: dict[str, np.ndarray]) -> np.ndarray:
    """conv 3x3 stride 2 (OIHW weights) + batch norm (eps 1e-3) + ReLU6, on one HWC image."""
    weight = state_dict["_conv_stem.weight"].astype(np.float64)
    _, _, kernel, _ = weight.shape
    stride = 2
    height, width, _ = image.shape
    pad_top, pad_bottom = _same_padding(height, kernel, stride)
    pad_left, pad_right = _same_padding(width, kernel, stride)
    padded = np.pad(image.astype(np.float64), ((pad_top, pad_bottom), (pad_left, pad_right), (0, 0)))
    out_height, out_width = math.ceil(height / stride), math.ceil(width / stride)
    conv = np.zeros((out_height, out_width, weight.shape[0]))
    for row in range(kernel):
        for column in range(kernel):
            window = padded[
                row : row + stride * out_height : stride,
                column : column + stride * out_width : stride,
            ]
            conv += np.einsum("hwc,oc->hwo", window, weight[:, :, row, column])
    scale = state_dict["_bn0.weight"] / np.sqrt(state_dict["_bn0.running_var"] + 1e-3)
    normalised = (conv - state_dict["_bn0.running_mean"]) * scale + state_dict["_bn0.bias"]
    return np.clip(normalised, 0.0, 6.0)


def test_stem_matches_an_independent_numpy_computation(
    ported_model: keras.Model,
) -> None:
    batch = _photo_batch(CHELSEA)
    stem = keras.Model(ported_model.input, ported_model.get_layer("stem_activation").output)

    keras_stem = keras.ops.convert_to_numpy(stem(batch, training=False))[0]
    numpy_stem = _numpy_stem(batch[0], read_legacy_state_dict(bundled_weights_path()))

    assert keras_stem.shape == (112, 112, 32)
    np.testing.assert_allclose(keras_stem, numpy_stem, atol=1e-4, rtol=0)


@pytest.mark.slow
def test_coffee_is_espresso(ported_model: keras.Model) -> None:
    probabilities = _probabilities(ported_model, _photo_batch(COFFEE))

    assert int(probabilities.argmax()) == ESPRESSO
    assert probabilities[ESPRESSO] > 0.5


@pytest.mark.slow
def test_chelsea_is_a_cat(ported_model: keras.Model) -> None:
    probabilities = _probabilities(ported_model, _photo_batch(CHELSEA))

    assert int(probabilities.argmax()) in {TABBY, TIGER_CAT, EGYPTIAN_CAT}


@pytest.mark.slow
def test_grayscale_camera_man_is_a_tripod(ported_model: keras.Model) -> None:
    probabilities = _probabilities(ported_model, _photo_batch(CAMERA))

    assert int(probabilities.argmax()) == TRIPOD


@pytest.mark.slow
def test_grace_hopper_wears_a_military_uniform(ported_model: keras.Model) -> None:
    probabilities = _probabilities(ported_model, _photo_batch(GRACE_HOPPER))

    assert MILITARY_UNIFORM in np.argsort(probabilities)[-5:]


def test_second_build_loads_the_cached_weights(
    ported_model: keras.Model, weights_cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (cache_file,) = weights_cache_dir.glob("efficientnet_lite0-*.weights.h5")
    cached_mtime = cache_file.stat().st_mtime_ns

    def refuse_to_read(path: Path) -> dict[str, np.ndarray]:
        raise AssertionError(f"the source checkpoint {path} was read again")

    monkeypatch.setattr(efficientnet_lite, "read_legacy_state_dict", refuse_to_read)
    started = time.perf_counter()
    reloaded = build_efficientnet_lite0(bundled_weights_path(), cache_dir=weights_cache_dir)
    print(f"load from .weights.h5 cache: {time.perf_counter() - started:.2f} s")

    assert cache_file.stat().st_mtime_ns == cached_mtime
    batch = _photo_batch(COFFEE)
    np.testing.assert_array_equal(_probabilities(reloaded, batch), _probabilities(ported_model, batch))


def test_corrupt_cache_is_rebuilt_from_the_source(ported_model: keras.Model, tmp_path: Path) -> None:
    build_efficientnet_lite0(bundled_weights_path(), cache_dir=tmp_path)
    (cache_file,) = tmp_path.glob("efficientnet_lite0-*.weights.h5")
    cache_file.write_bytes(b"not an HDF5 file")

    rebuilt = build_efficientnet_lite0(bundled_weights_path(), cache_dir=tmp_path)

    assert cache_file.read_bytes().startswith(b"\x89HDF\r\n\x1a\n")
    assert [path.name for path in tmp_path.iterdir()] == [cache_file.name]
    batch = _photo_batch(CAMERA)
    np.testing.assert_array_equal(_probabilities(rebuilt, batch), _probabilities(ported_model, batch))
