"""A plain chain of layers (VGG16, VGG19) written straight to ONNX from its Keras weights, without tf2onnx.

tf2onnx freezes the whole graph and runs TensorFlow's graph optimizer over the weights: for VGG19 (548 MB of
float32) that passed 16 GB of RSS, so VGG19 had no int8 graph. A chain of convolutions, poolings and dense
layers needs none of that: each layer is one or two ONNX nodes, and each weight is copied once, transposed to
ONNX's layout. `plain_graph` answers None for any other model (a residual or depthwise one), which then goes
through tf2onnx as before.

The graph takes the model's own input, (batch, height, width, 3) float32, transposes it once to ONNX's
channels-first layout, and transposes back before `Flatten`, so that the dense weights see Keras' order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import keras
    import onnx

IR_VERSION = 8  # ONNX's IR version of opset 17 (quantized.OPSET)
NCHW = [0, 3, 1, 2]
NHWC = [0, 2, 3, 1]
ACTIVATIONS = {"linear": None, "relu": "Relu", "softmax": "Softmax"}


# Writes one layer's nodes: (layer, graph, whether the tensor is still an image) -> whether it is after it.
Translator = Callable[["keras.layers.Layer", "_Graph", bool], bool]


class _NotPlain(Exception):
    """The model holds a layer (or a setting of one) this writer does not translate."""


class _Graph:
    """The nodes and initializers written so far, and the name of the latest output."""

    def __init__(self, input_name: str, *, dry_run: bool = False) -> None:
        from onnx import helper

        self.helper = helper
        self.dry_run = dry_run  # check every layer and setting, copy no weight
        self.nodes: list[onnx.NodeProto] = []
        self.weights: list[onnx.TensorProto] = []
        self.latest = input_name
        self.counter = 0

    def node(self, op_type: str, inputs: list[str], **attributes: object) -> None:
        self.counter += 1
        output = f"{op_type.lower()}_{self.counter}"
        # Named (after its output): quantization picks and excludes nodes by name.
        self.nodes.append(self.helper.make_node(op_type, [self.latest, *inputs], [output], name=output, **attributes))
        self.latest = output

    def weight(self, name: str, variable: keras.Variable, *, axes: tuple[int, ...] | None = None) -> str:
        from onnx import numpy_helper

        if not self.dry_run:
            array = np.asarray(variable.numpy(), dtype=np.float32)
            array = np.ascontiguousarray(array if axes is None else array.transpose(axes))
            self.weights.append(numpy_helper.from_array(array, name))
        return name

    def activation(self, name: str, layer_name: str) -> None:
        if name not in ACTIVATIONS:
            raise _NotPlain(f"activation {name!r} of {layer_name}")
        op_type = ACTIVATIONS[name]
        if op_type == "Softmax":
            self.node(op_type, [], axis=-1)
        elif op_type is not None:
            self.node(op_type, [])


def plain_graph(model: keras.Model, *, input_name: str, opset: int) -> onnx.ModelProto | None:
    """`model` as an ONNX graph with input `input_name`, or None when it is not a plain chain of layers."""
    from onnx import TensorProto, helper

    graph = _Graph(input_name)
    try:
        _write_layers(model, graph)
    except _NotPlain:
        return None
    height, width, channels = model.input_shape[1:]
    inputs = [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch", height, width, channels])]
    outputs = [helper.make_tensor_value_info(graph.latest, TensorProto.FLOAT, ["batch", model.output_shape[-1]])]
    body = helper.make_graph(graph.nodes, model.name, inputs, outputs, initializer=graph.weights)
    exported = helper.make_model(body, opset_imports=[helper.make_opsetid("", opset)], producer_name="imgrec")
    exported.ir_version = IR_VERSION  # what the opset needs, not the newest onnx knows (ONNX Runtime may not)
    return exported


def is_plain(model: keras.Model) -> bool:
    """Whether `plain_graph` can write this model (checked without copying a weight)."""
    try:
        _write_layers(model, _Graph("input", dry_run=True))
    except _NotPlain:
        return False
    return True


def _write_layers(model: keras.Model, graph: _Graph) -> None:
    _check_chain(model)
    graph.node("Transpose", [], perm=NCHW)
    spatial = True  # (batch, channels, height, width) until Flatten or a global pooling
    for layer in model.layers:
        spatial = _translator(layer)(layer, graph, spatial)
    if spatial:
        raise _NotPlain("the model ends on an image, not a vector of scores")


def _check_chain(model: keras.Model) -> None:
    """Each layer takes the one before it: no branches, no skips, one input and one output."""
    if len(model.inputs) != 1 or len(model.outputs) != 1 or len(model.input_shape) != 4:
        raise _NotPlain("not one image in, one vector out")
    previous = None
    for layer in model.layers:
        inbound = layer._inbound_nodes
        if len(inbound) != 1:
            raise _NotPlain(f"{layer.name} is used {len(inbound)} times")
        parents = [parent.operation for parent in inbound[0].parent_nodes]
        if previous is None:  # the model's input layer itself, or (in a Sequential) the layer reading it
            if parents and [type(parent).__name__ for parent in parents] != ["InputLayer"]:
                raise _NotPlain(f"{layer.name} comes first but reads other layers")
        elif parents != [previous]:
            raise _NotPlain(f"{layer.name} does not take {previous.name} alone")
        previous = layer


def _translator(layer: keras.layers.Layer) -> Translator:
    kind = type(layer).__name__
    if kind not in _TRANSLATORS:
        raise _NotPlain(f"layer {kind}")
    return _TRANSLATORS[kind]


def _identity(layer: keras.layers.Layer, graph: _Graph, spatial: bool) -> bool:
    """The model's input, and dropout (which does nothing at inference): no node."""
    return spatial


def _conv2d(layer: keras.layers.Layer, graph: _Graph, spatial: bool) -> bool:
    config = layer.get_config()
    if not spatial or config.get("groups", 1) != 1 or config["data_format"] != "channels_last":
        raise _NotPlain(f"convolution {layer.name}")
    # Keras' kernel is (height, width, in, out); ONNX's (out, in, height, width).
    inputs = [graph.weight(f"{layer.name}.kernel", layer.kernel, axes=(3, 2, 0, 1))]
    if config["use_bias"]:
        inputs.append(graph.weight(f"{layer.name}.bias", layer.bias))
    graph.node(
        "Conv",
        inputs,
        kernel_shape=list(config["kernel_size"]),
        strides=list(config["strides"]),
        dilations=list(config["dilation_rate"]),
        pads=_pads(layer, config["padding"], config["kernel_size"], config["strides"], config["dilation_rate"]),
    )
    graph.activation(config["activation"], layer.name)
    return True


def _pads(
    layer: keras.layers.Layer,
    padding: str,
    kernel: tuple[int, int],
    strides: tuple[int, int],
    dilations: tuple[int, int],
) -> list[int]:
    """ONNX's explicit pads (top, left, bottom, right) for TensorFlow's padding of this layer's input.

    "same" pads so that the output is ceil(input / stride), the odd pixel at the end, as TensorFlow does;
    written out rather than as ONNX's auto_pad, which ONNX Runtime refuses with dilations.
    """
    if padding == "valid":
        return [0, 0, 0, 0]
    if padding != "same":
        raise _NotPlain(f"padding {padding!r} of {layer.name}")
    begin, end = [], []
    for size, window, stride, dilation in zip(layer.input.shape[1:3], kernel, strides, dilations, strict=True):
        if size is None:
            raise _NotPlain(f"{layer.name} on an image of no fixed size")
        total = max((-(-size // stride) - 1) * stride + (window - 1) * dilation + 1 - size, 0)
        begin.append(total // 2)
        end.append(total - total // 2)
    return begin + end


def _pooling(op_type: str) -> Translator:
    def pool(layer: keras.layers.Layer, graph: _Graph, spatial: bool) -> bool:
        config = layer.get_config()
        if not spatial or config["data_format"] != "channels_last":
            raise _NotPlain(f"pooling {layer.name}")
        strides = config["strides"] or config["pool_size"]
        attributes: dict[str, object] = {}
        if op_type == "AveragePool":
            attributes["count_include_pad"] = 0  # Keras averages over the real pixels only
        graph.node(
            op_type,
            [],
            kernel_shape=list(config["pool_size"]),
            strides=list(strides),
            pads=_pads(layer, config["padding"], config["pool_size"], strides, (1, 1)),
            **attributes,
        )
        return True

    return pool


def _global_pooling(op_type: str) -> Translator:
    def pool(layer: keras.layers.Layer, graph: _Graph, spatial: bool) -> bool:
        config = layer.get_config()
        if not spatial or config["data_format"] != "channels_last" or config.get("keepdims"):
            raise _NotPlain(f"pooling {layer.name}")
        graph.node(op_type, [])
        graph.node("Flatten", [], axis=1)
        return False

    return pool


def _flatten(layer: keras.layers.Layer, graph: _Graph, spatial: bool) -> bool:
    if spatial:
        graph.node("Transpose", [], perm=NHWC)  # Keras flattens (height, width, channels)
    graph.node("Flatten", [], axis=1)
    return False


def _dense(layer: keras.layers.Layer, graph: _Graph, spatial: bool) -> bool:
    config = layer.get_config()
    if spatial:
        raise _NotPlain(f"dense {layer.name} on an image")
    inputs = [graph.weight(f"{layer.name}.kernel", layer.kernel)]  # (in, out), as Gemm's B
    if config["use_bias"]:
        inputs.append(graph.weight(f"{layer.name}.bias", layer.bias))
    graph.node("Gemm", inputs)
    graph.activation(config["activation"], layer.name)
    return False


def _activation(layer: keras.layers.Layer, graph: _Graph, spatial: bool) -> bool:
    name = layer.get_config()["activation"]
    if spatial and name == "softmax":
        raise _NotPlain(f"softmax over an image in {layer.name}")
    graph.activation(name, layer.name)
    return spatial


def _relu_layer(layer: keras.layers.Layer, graph: _Graph, spatial: bool) -> bool:
    config = layer.get_config()
    if config.get("max_value") is not None or config.get("negative_slope") or config.get("threshold"):
        raise _NotPlain(f"ReLU with limits in {layer.name}")
    graph.node("Relu", [])
    return spatial


_TRANSLATORS: dict[str, Translator] = {
    "InputLayer": _identity,
    "Conv2D": _conv2d,
    "MaxPooling2D": _pooling("MaxPool"),
    "AveragePooling2D": _pooling("AveragePool"),
    "GlobalAveragePooling2D": _global_pooling("GlobalAveragePool"),
    "GlobalMaxPooling2D": _global_pooling("GlobalMaxPool"),
    "Flatten": _flatten,
    "Dense": _dense,
    "Dropout": _identity,
    "Activation": _activation,
    "ReLU": _relu_layer,
}
