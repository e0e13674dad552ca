"""A model built with NumPy's initial weights: Keras' distributions, Keras' own draw where NumPy has none."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from recognizer.inference.zoo.keras_applications import application_builder  # noqa: E402
from recognizer.inference.zoo.numpy_init import build_with_numpy_init, fans  # noqa: E402

UNIFORM_STD = 1 / math.sqrt(3)  # a uniform draw on [-limit, limit] has standard deviation limit / sqrt(3)


def small_model() -> keras.Model:
    inputs = keras.Input((16, 16, 8))
    x = keras.layers.Conv2D(256, 3, kernel_initializer="he_normal", name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="norm")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(
        512, kernel_initializer=keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal"), name="wide"
    )(x)
    x = keras.layers.Dense(512, kernel_initializer=keras.initializers.RandomNormal(stddev=0.5), name="odd")(x)
    outputs = keras.layers.Dense(300, name="classifier")(x)  # glorot_uniform, zeros
    return keras.Model(inputs, outputs)


def weights_of(model: keras.Model) -> dict[str, np.ndarray]:
    return {variable.path: np.asarray(variable) for variable in model.variables}


@pytest.fixture(scope="module")
def drawn() -> dict[str, np.ndarray]:
    return weights_of(build_with_numpy_init(small_model))


def test_glorot_uniform_keeps_its_limit_and_spread(drawn: dict[str, np.ndarray]) -> None:
    kernel = drawn["classifier/kernel"]
    limit = math.sqrt(6.0 / (512 + 300))
    assert np.abs(kernel).max() <= limit
    assert np.abs(kernel).max() > 0.99 * limit
    assert kernel.std() == pytest.approx(limit * UNIFORM_STD, rel=0.02)
    assert abs(kernel.mean()) < 0.01 * limit


def test_he_normal_is_truncated_at_two_standard_deviations(drawn: dict[str, np.ndarray]) -> None:
    kernel = drawn["conv/kernel"]
    fan_in = 3 * 3 * 8
    untruncated_std = math.sqrt(2.0 / fan_in) / 0.87962566103423978
    assert np.abs(kernel).max() <= 2 * untruncated_std + 1e-6
    assert kernel.std() == pytest.approx(math.sqrt(2.0 / fan_in), rel=0.02)


def test_untruncated_normal_uses_the_chosen_fan(drawn: dict[str, np.ndarray]) -> None:
    kernel = drawn["wide/kernel"]
    assert kernel.std() == pytest.approx(math.sqrt(2.0 / 512), rel=0.02)
    assert np.abs(kernel).max() > 3 * kernel.std()  # not truncated


def test_constant_initializers_and_an_unknown_one(drawn: dict[str, np.ndarray]) -> None:
    assert not drawn["classifier/bias"].any()
    assert (drawn["norm/gamma"] == 1).all() and (drawn["norm/moving_variance"] == 1).all()
    assert not drawn["norm/beta"].any() and not drawn["norm/moving_mean"].any()
    assert drawn["odd/kernel"].std() == pytest.approx(0.5, rel=0.02)  # Keras' own draw


def test_two_builds_draw_different_weights(drawn: dict[str, np.ndarray]) -> None:
    again = weights_of(build_with_numpy_init(small_model))
    assert not np.array_equal(again["classifier/kernel"], drawn["classifier/kernel"])


def test_a_seed_repeats_the_numpy_draws_and_only_those() -> None:
    first, second = (weights_of(build_with_numpy_init(small_model, seed=7)) for _ in range(2))
    for path in ("conv/kernel", "wide/kernel", "classifier/kernel"):
        np.testing.assert_array_equal(first[path], second[path])
    assert not np.array_equal(first["odd/kernel"], second["odd/kernel"])  # Keras' draw, unseeded


def test_zeros_leave_only_unknown_initializers_drawn() -> None:
    weights = weights_of(build_with_numpy_init(small_model, zeros=True))
    assert not weights["conv/kernel"].any() and not weights["classifier/kernel"].any()
    assert not weights["norm/gamma"].any()
    assert weights["odd/kernel"].std() == pytest.approx(0.5, rel=0.02)


def test_the_model_runs_and_later_models_build_as_usual() -> None:
    model = build_with_numpy_init(small_model)
    scores = model(np.ones((2, 16, 16, 8), dtype=np.float32))
    assert scores.shape == (2, 300) and np.isfinite(np.asarray(scores)).all()
    plain = small_model()  # no variable of the deferred build is left for a later scope to initialize twice
    with keras.StatelessScope():
        pass
    assert np.asarray(plain.get_layer("classifier").kernel).std() > 0


@pytest.mark.parametrize(
    ("shape", "expected"),
    [((), (1, 1)), ((7,), (7, 7)), ((3, 5), (3, 5)), ((3, 3, 8, 16), (72, 144)), ((2, 4, 4, 6, 10), (192, 320))],
)
def test_fans_follow_keras(shape: tuple[int, ...], expected: tuple[int, int]) -> None:
    assert fans(shape) == expected


def test_an_application_loads_its_weights_file_over_zeros(tmp_path: Path) -> None:
    """As a Keras application's ImageNet file: the legacy HDF5 format, read by `load_weights`."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    build = application_builder("MobileNet")
    original = build(None, cache_dir=tmp_path)
    weights_file = tmp_path / "mobilenet_1_0_224_tf.h5"
    with h5py.File(weights_file, "w") as file:
        legacy_h5_format.save_weights_to_hdf5_group(file, original)

    loaded = build(weights_file, cache_dir=tmp_path)

    for expected, actual in zip(original.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(actual, expected)
    assert np.asarray(loaded.get_layer("conv1").kernel).std() > 0
