"""plain_onnx: a plain chain of Keras layers written to ONNX gives the Keras model's numbers, layer for layer;
anything else is left to tf2onnx (None)."""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import onnx
import onnxruntime
import pytest

from recognizer.inference.plain_onnx import is_plain, plain_graph
from recognizer.inference.quantized import OPSET

INPUT = "input"


def run_onnx(exported: onnx.ModelProto, batch: np.ndarray) -> np.ndarray:
    onnx.checker.check_model(exported)
    session = onnxruntime.InferenceSession(exported.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {INPUT: batch})[0]


def images(count: int, side: int, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, size=(count, side, side, 3)).astype(np.float32)


def chain(side: int, *layers: keras.layers.Layer) -> keras.Model:
    keras.utils.set_random_seed(11)
    return keras.Sequential([keras.Input((side, side, 3)), *layers])


PLAIN_MODELS = {
    # Odd sides with stride 2 and "same": TensorFlow pads the odd pixel at the end (SAME_UPPER).
    "convolutions, poolings and dense layers": lambda: chain(
        15,
        keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
        keras.layers.Conv2D(8, 3, dilation_rate=2, padding="same", use_bias=False),
        keras.layers.ReLU(),
        keras.layers.MaxPooling2D(3, strides=2, padding="same"),
        keras.layers.Conv2D(6, 2, padding="valid"),
        keras.layers.Activation("relu"),
        keras.layers.AveragePooling2D(2, padding="same"),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(12, activation="relu"),
        keras.layers.Dense(5),
    ),
    "a softmax classifier over a global pooling": lambda: chain(
        16,
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.GlobalMaxPooling2D(),
        keras.layers.Dense(7, activation="softmax"),
    ),
    "an average pooling over the whole map": lambda: chain(
        9,
        keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(3),
    ),
}


@pytest.mark.parametrize("build", PLAIN_MODELS.values(), ids=PLAIN_MODELS.keys())
def test_a_plain_chain_gives_the_keras_models_numbers(build: Callable[[], keras.Model]) -> None:
    model = build()
    batch = images(4, model.input_shape[1])
    exported = plain_graph(model, input_name=INPUT, opset=OPSET)
    assert exported is not None and is_plain(model)
    np.testing.assert_allclose(run_onnx(exported, batch), model(batch, training=False).numpy(), rtol=1e-4, atol=1e-5)


def test_every_node_has_its_own_name_for_quantization_to_pick_by() -> None:
    exported = plain_graph(PLAIN_MODELS["convolutions, poolings and dense layers"](), input_name=INPUT, opset=OPSET)
    assert exported is not None
    names = [node.name for node in exported.graph.node]
    assert all(names) and len(set(names)) == len(names)


def residual() -> keras.Model:
    inputs = keras.Input((8, 8, 3))
    features = keras.layers.Conv2D(3, 3, padding="same")(inputs)
    merged = keras.layers.Add()([inputs, features])
    return keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(merged)))


def shared() -> keras.Model:
    """Only known layers, but one of them runs twice (it is listed once)."""
    inputs = keras.Input((8, 8, 3))
    convolution = keras.layers.Conv2D(3, 3, padding="same")
    return keras.Model(inputs, keras.layers.Flatten()(convolution(convolution(inputs))))


NOT_PLAIN = {
    "a residual connection": residual,
    "a layer used twice": shared,
    "batch normalization": lambda: chain(8, keras.layers.Conv2D(4, 3), keras.layers.BatchNormalization()),
    "a depthwise convolution": lambda: chain(8, keras.layers.DepthwiseConv2D(3)),
    "a grouped convolution": lambda: chain(8, keras.layers.Conv2D(6, 3, groups=3)),
    "an activation it does not write": lambda: chain(8, keras.layers.Conv2D(4, 3, activation="tanh")),
    "a capped ReLU": lambda: chain(8, keras.layers.Conv2D(4, 3), keras.layers.ReLU(max_value=6.0)),
    "a softmax over an image": lambda: chain(8, keras.layers.Conv2D(4, 3), keras.layers.Activation("softmax")),
    "an image out": lambda: chain(8, keras.layers.Conv2D(4, 3, activation="relu")),
}


@pytest.mark.parametrize("build", NOT_PLAIN.values(), ids=NOT_PLAIN.keys())
def test_anything_else_is_left_to_tf2onnx(build: Callable[[], keras.Model]) -> None:
    model = build()
    assert plain_graph(model, input_name=INPUT, opset=OPSET) is None
    assert not is_plain(model)


@pytest.mark.slow
def test_vgg19_is_written_directly_and_gives_keras_numbers() -> None:
    """The real architecture (random weights): 548 MB of weights in seconds, where tf2onnx passed 16 GB."""
    vgg19 = keras.applications.VGG19(weights=None)
    exported = plain_graph(vgg19, input_name=INPUT, opset=OPSET)
    assert exported is not None
    assert {node.op_type for node in exported.graph.node} == {
        "Transpose", "Conv", "Relu", "MaxPool", "Flatten", "Gemm", "Softmax"
    }  # fmt: skip
    batch = images(2, 224) * 120.0  # the range of caffe-preprocessed pixels
    np.testing.assert_allclose(run_onnx(exported, batch), vgg19(batch, training=False).numpy(), rtol=1e-3, atol=1e-8)
