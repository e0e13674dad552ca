"""Which arithmetic a model's forward pass runs in: IMGREC_PRECISION=fp32 (the Keras graph) or fast (int8).

A model that cannot be quantized (an export or calibration failure), or whose int8 graph changes its answers
(quantized.QuantizationRejected), serves in float32 rather than not at all or wrongly, and says so in its
status; one model's failure never stops the others.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from recognizer.inference.compiled import CompiledModel
from recognizer.inference.plain_onnx import is_plain

if TYPE_CHECKING:
    import keras

    from recognizer.inference.catalog import ModelSpec

logger = logging.getLogger(__name__)

PRECISIONS = ("fp32", "fast")
# Exporting VGG19 (144 M parameters) through tf2onnx passed 16 GB of RSS (it runs TensorFlow's graph optimizer
# over the weights); ResNet50 (26 M) held 7.2 GB. A plain chain of layers (VGG16, VGG19) is written to ONNX
# directly (plain_onnx.py) at any size; a larger model of another shape serves fp32 under `fast`.
MAX_QUANTIZED_PARAMS = 50_000_000
# What each setting computes in, as /api/v1/models and About show it.
COMPUTED_IN = {"fp32": "fp32", "fast": "int8"}


def compile_model(
    model: keras.Model, *, spec: ModelSpec, precision: str, fingerprint: str, cache_dir: Path
) -> CompiledModel:
    """The model's forward pass in the precision asked for (int8 for fast, when it can be quantized)."""
    if precision == "fast" and spec.params > MAX_QUANTIZED_PARAMS and not is_plain(model):
        logger.warning("model %s serves in fp32: too large to quantize here (%d parameters)", spec.name, spec.params)
    elif precision == "fast":
        from recognizer.inference.quantized import QuantizationRejected, quantized_model

        try:
            return quantized_model(model, spec=spec, fingerprint=fingerprint, cache_dir=cache_dir)
        except QuantizationRejected as rejected:
            logger.warning("model %s serves in fp32: %s", spec.name, rejected)
        except Exception:  # any failure to quantize leaves the float32 model serving
            logger.exception("model %s could not be quantized; it serves in fp32", spec.name)
    return CompiledModel(model, input_size=spec.input_size)
