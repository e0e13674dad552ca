"""A custom model's head as `.keras` bytes, both ways: written once trained, read back (or uploaded) safely.

A `.keras` file is a zip of `config.json` (the layers) and the weights. Reading one from a stranger must
not run their code: the config is checked before Keras sees it (a functional or sequential model of
only InputLayer, Dropout and Dense layers from `keras.layers`, Dense activations from a short list),
and Keras loads it with `safe_mode=True` (no lambdas) and without compiling. Then the loaded model must
be a chain from a (features,) input to a softmax over exactly the model's classes.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from recognizer.inference.errors import InvalidInput, shown

if TYPE_CHECKING:
    import keras

ALLOWED_MODELS = {"Functional", "Sequential"}
ALLOWED_LAYERS = {"InputLayer", "Dropout", "Dense"}
ALLOWED_ACTIVATIONS = {"softmax", "linear", "relu"}
MAX_CONFIG_BYTES = 1 << 20


def head_bytes(head: keras.Model) -> bytes:
    """The head as the bytes of a `.keras` file (what `CustomModel.head` stores)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "head.keras"
        head.save(path)
        return path.read_bytes()


def head_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _checked_config(data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.getinfo("config.json")
            if info.file_size > MAX_CONFIG_BYTES:
                raise InvalidInput(f"Expected a head config under 1 MB. Received {info.file_size:,} bytes")
            config = json.loads(archive.read(info))
            archive.getinfo("model.weights.h5")
    except (zipfile.BadZipFile, KeyError, ValueError, UnicodeDecodeError) as error:
        raise InvalidInput(
            "Expected model.keras to be a Keras file (a zip with config.json and model.weights.h5). "
            f"Received one that is not: {shown(error, limit=80, quoted=False)}"
        ) from None
    if not isinstance(config, dict) or config.get("class_name") not in ALLOWED_MODELS:
        kind = config.get("class_name") if isinstance(config, dict) else type(config).__name__
        raise InvalidInput(f"Expected a Functional or Sequential Keras model. Received {shown(kind, limit=40)}")
    layers = config.get("config", {}).get("layers", [])
    if not isinstance(layers, list) or not layers:
        raise InvalidInput("Expected a head with layers. Received a model config without any")
    for layer in layers:
        name = layer.get("class_name") if isinstance(layer, dict) else None
        if name not in ALLOWED_LAYERS or layer.get("module") != "keras.layers":
            raise InvalidInput(
                f"Expected a head of only {', '.join(sorted(ALLOWED_LAYERS))} layers from keras.layers. "
                f"Received a layer {shown(name, limit=40)}"
            )
        activation = layer.get("config", {}).get("activation")
        if name == "Dense" and activation not in ALLOWED_ACTIVATIONS:
            raise InvalidInput(
                f"Expected Dense activations among {', '.join(sorted(ALLOWED_ACTIVATIONS))}. "
                f"Received {shown(activation, limit=40)}"
            )


def load_head(data: bytes, *, class_count: int, feature_size: int | None = None) -> keras.Model:
    """The head model from `.keras` bytes, checked (see the module docstring); InvalidInput when it is not one."""
    import keras

    _checked_config(data)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "head.keras"
        path.write_bytes(data)
        try:
            head = keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as error:  # Keras raises many kinds on a damaged file; none may become a 500
            raise InvalidInput(
                f"Expected a loadable Keras head. Received one Keras refused: {shown(error, limit=100, quoted=False)}"
            ) from None
    inputs, outputs = head.inputs, head.outputs
    if len(inputs) != 1 or len(outputs) != 1 or len(inputs[0].shape) != 2 or len(outputs[0].shape) != 2:
        raise InvalidInput(
            "Expected a head with one (features,) input and one (classes,) output. Received another shape"
        )
    last = head.layers[-1]
    if not isinstance(last, keras.layers.Dense) or last.activation is not keras.activations.softmax:
        raise InvalidInput("Expected a head ending in a Dense layer with a softmax. Received another last layer")
    if outputs[0].shape[-1] != class_count:
        raise InvalidInput(
            f"Expected a head with one output per class ({class_count}). Received {outputs[0].shape[-1]} outputs"
        )
    if feature_size is not None and inputs[0].shape[-1] != feature_size:
        raise InvalidInput(
            f"Expected a head taking the backbone's {feature_size} pooled features. Received {inputs[0].shape[-1]}"
        )
    return head
