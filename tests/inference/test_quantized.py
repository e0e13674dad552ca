"""The int8 forward pass (IMGREC_PRECISION=fast): quantized through ONNX Runtime, cached by weights, and close
to the float32 answers; a small model for the mechanics, EfficientNet-Lite0's real weights for agreement."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np
import onnx
import pytest

from recognizer.inference.calibration import available_calibration
from recognizer.inference.catalog import SPECS_BY_NAME, ModelSpec
from recognizer.inference.compiled import CompiledModel
from recognizer.inference.precision import MAX_QUANTIZED_PARAMS, compile_model
from recognizer.inference.quantized import (
    OnnxModel,
    QuantizationRejected,
    cache_path,
    float_path,
    has_vnni,
    quantized_model,
)
from tests.inference.photos import held_out_views

SMALL_SIZE = 32


def scaled(pixels: np.ndarray) -> np.ndarray:
    return np.asarray(pixels, dtype=np.float32) / 255.0


@pytest.fixture(scope="module")
def small_spec() -> ModelSpec:
    return dataclasses.replace(
        SPECS_BY_NAME["efficientnet_lite0"], name="small", input_size=SMALL_SIZE, preprocess=scaled
    )


@pytest.fixture(scope="module")
def small_model() -> keras.Model:
    keras.utils.set_random_seed(7)
    return keras.Sequential(
        [
            keras.Input((SMALL_SIZE, SMALL_SIZE, 3)),
            keras.layers.Conv2D(8, 3, activation="relu"),
            keras.layers.Conv2D(16, 3, strides=2, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


@pytest.fixture(scope="module")
def residual_model() -> keras.Model:
    """Not a plain chain: exported through tf2onnx."""
    keras.utils.set_random_seed(8)
    inputs = keras.Input((SMALL_SIZE, SMALL_SIZE, 3))
    features = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    features = keras.layers.Add()([features, keras.layers.Conv2D(8, 3, padding="same")(features)])
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(pooled))


def photos(spec: ModelSpec, count: int) -> np.ndarray:
    batches = available_calibration().batches(size=spec.input_size, preprocess=spec.preprocess)
    return np.concatenate([next(batches) for _ in range(count)])


# A plain chain is written to ONNX directly (plain_onnx.py); any other shape goes through tf2onnx.
@pytest.mark.parametrize("architecture", ["small_model", "residual_model"])
def test_int8_scores_stay_close_to_float32_and_keep_float_resolution(
    architecture: str, small_spec: ModelSpec, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    model = request.getfixturevalue(architecture)
    quantized = quantized_model(model, spec=small_spec, fingerprint="random-test", cache_dir=tmp_path)
    batch = photos(small_spec, 5)
    expected = CompiledModel(model, input_size=SMALL_SIZE).forward(batch)
    scores = quantized.forward(batch)
    assert quantized.precision == "int8"
    assert scores.shape == (5, 10) and scores.dtype == np.float32
    assert np.allclose(scores.sum(axis=1), 1.0, atol=1e-4)  # the softmax is float, not 256 levels
    assert np.abs(scores - expected).max() < 0.05


def test_random_weights_are_quantized_at_each_load_and_never_cached(
    small_model: keras.Model, small_spec: ModelSpec, tmp_path: Path
) -> None:
    quantized_model(small_model, spec=small_spec, fingerprint="random-0123", cache_dir=tmp_path)
    assert list(tmp_path.rglob("*.onnx")) == []


def test_real_weights_are_quantized_once_and_read_back(
    small_model: keras.Model, small_spec: ModelSpec, tmp_path: Path
) -> None:
    first = quantized_model(small_model, spec=small_spec, fingerprint="abc123", cache_dir=tmp_path)
    cached = cache_path(small_spec, fingerprint="abc123", cache_dir=tmp_path, calibration=available_calibration())
    written = cached.stat().st_mtime_ns
    assert {"QLinearConv", "QuantizeLinear"} <= {node.op_type for node in onnx.load(str(cached)).graph.node}
    second = quantized_model(small_model, spec=small_spec, fingerprint="abc123", cache_dir=tmp_path)
    assert cached.stat().st_mtime_ns == written
    batch = photos(small_spec, 3)
    assert np.array_equal(first.forward(batch), second.forward(batch))


def test_fast_precision_is_int8_and_a_model_that_cannot_be_quantized_serves_in_fp32(
    small_model: keras.Model, small_spec: ModelSpec, tmp_path: Path
) -> None:
    fast = compile_model(small_model, spec=small_spec, precision="fast", fingerprint="random-1", cache_dir=tmp_path)
    assert isinstance(fast, OnnxModel) and (fast.precision, fast.runtime) == ("int8", "onnxruntime")
    # Calibration photos of one channel cannot be fed to a three-channel model: quantizing fails.
    one_channel = dataclasses.replace(small_spec, preprocess=lambda pixels: scaled(pixels)[..., :1])
    fallback = compile_model(
        small_model, spec=one_channel, precision="fast", fingerprint="random-2", cache_dir=tmp_path
    )
    assert type(fallback) is CompiledModel and (fallback.precision, fallback.runtime) == ("fp32", "keras")
    plain = compile_model(small_model, spec=small_spec, precision="fp32", fingerprint="random-3", cache_dir=tmp_path)
    assert type(plain) is CompiledModel


def flipped_classifier(model: keras.Model, order: list[int] | None = None) -> keras.Model:
    """The same architecture with the classifier's sign flipped (and its classes reordered): other answers."""
    weights = model.get_weights()
    kernel, bias = (-w for w in weights[-2:])
    if order is not None:
        kernel, bias = kernel[:, order], bias[order]
    flipped = keras.models.clone_model(model)
    flipped.set_weights([*weights[:-2], kernel, bias])
    return flipped


def test_where_int8_is_refused_the_float32_export_serves_on_onnx_runtime(
    small_model: keras.Model, small_spec: ModelSpec, tmp_path: Path
) -> None:
    first = quantized_model(small_model, spec=small_spec, fingerprint="real-weights", cache_dir=tmp_path)
    cached = cache_path(small_spec, fingerprint="real-weights", cache_dir=tmp_path, calibration=available_calibration())
    assert first.precision == "int8" and cached.is_file()
    assert not float_path(cached).exists()  # kept only where int8 is refused
    # Another model under the same fingerprint: the cached int8 graph (the first model's) changes its answers.
    flipped = flipped_classifier(small_model)
    with pytest.raises(QuantizationRejected, match="Expected the int8 small to keep the fp32 top-1"):
        quantized_model(flipped, spec=small_spec, fingerprint="real-weights", cache_dir=tmp_path)

    served = compile_model(flipped, spec=small_spec, precision="fast", fingerprint="real-weights", cache_dir=tmp_path)

    assert isinstance(served, OnnxModel) and (served.precision, served.runtime) == ("fp32", "onnxruntime")
    batch = photos(small_spec, 5)
    expected = CompiledModel(flipped, input_size=small_spec.input_size).forward(batch)
    np.testing.assert_allclose(served.forward(batch), expected, rtol=1e-4, atol=1e-6)
    assert float_path(cached).is_file()  # cached for the next start

    # A third model: the cached int8 and float32 graphs both change its answers, so Keras serves it.
    reordered = flipped_classifier(small_model, order=[*range(3, 10), *range(3)])  # every top-1 moves
    keras_served = compile_model(
        reordered, spec=small_spec, precision="fast", fingerprint="real-weights", cache_dir=tmp_path
    )
    assert type(keras_served) is CompiledModel and (keras_served.precision, keras_served.runtime) == ("fp32", "keras")


@pytest.mark.slow
def test_fast_precision_keeps_efficientnet_lite0s_answers_on_the_wheels_photos_and_crops(
    efficientnet_lite0: keras.Model, tmp_path: Path
) -> None:
    """Real weights: whatever `fast` serves (int8, or fp32 where int8 was refused) gives the fp32 top-1."""
    spec = SPECS_BY_NAME["efficientnet_lite0"]
    fast = compile_model(efficientnet_lite0, spec=spec, precision="fast", fingerprint="lite0", cache_dir=tmp_path)
    fp32 = CompiledModel(efficientnet_lite0, input_size=spec.input_size)
    batch = np.stack([spec.preprocess(view[np.newaxis])[0] for view in held_out_views(spec.input_size)])
    agreed = sum(
        int(np.sum(fast.forward(chunk).argmax(axis=1) == fp32.forward(chunk).argmax(axis=1)))
        for chunk in np.array_split(batch, range(16, len(batch), 16))
    )
    assert agreed / len(batch) >= 0.99
    assert fast.runtime == "onnxruntime"  # int8 where it keeps the answers, else the float32 export


def test_a_large_model_is_quantized_only_when_it_is_a_plain_chain(
    small_model: keras.Model, residual_model: keras.Model, small_spec: ModelSpec, tmp_path: Path
) -> None:
    """tf2onnx cannot export a model of VGG19's size here (16 GB); a plain chain is written directly at any size."""
    huge = dataclasses.replace(small_spec, params=MAX_QUANTIZED_PARAMS + 1)
    served = compile_model(residual_model, spec=huge, precision="fast", fingerprint="random-4", cache_dir=tmp_path)
    assert type(served) is CompiledModel and served.precision == "fp32"
    plain = compile_model(small_model, spec=huge, precision="fast", fingerprint="random-6", cache_dir=tmp_path)
    assert isinstance(plain, OnnxModel) and plain.precision == "int8"


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ("fpu sse2 avx2 fma avx512f avx512_vnni avx512_bf16", True),
        ("fpu sse2 avx2 avx_vnni", True),
        ("fpu sse2 avx2 fma avx512f avx512bw", False),
    ],
)
def test_weights_keep_8_bits_only_on_a_cpu_with_vnni(tmp_path: Path, flags: str, expected: bool) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: some cpu\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    assert has_vnni(cpuinfo) is expected
    assert has_vnni(tmp_path / "absent") is False  # not Linux: 7 bits, safe everywhere
