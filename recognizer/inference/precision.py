"""Which arithmetic a model's forward pass runs in: IMGREC_PRECISION=fp32 (the Keras graph) or fast (int8 on
ONNX Runtime).

A model whose int8 graph changes its answers (quantized.QuantizationRejected) serves its float32 export on ONNX
Runtime, the same answers faster than Keras; one that cannot be exported or quantized at all serves the Keras
graph, rather than not at all or wrongly. Its status says which (`precision`, `runtime`); one model's failure
never stops the others.
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
# What each setting computes in and on, as /api/v1/models and About show it before a model is loaded.
EXPECTED = {"fp32": ("fp32", "keras"), "fast": ("int8", "onnxruntime")}


def compile_model(
    model: keras.Model, *, spec: ModelSpec, precision: str, fingerprint: str, cache_dir: Path
) -> CompiledModel:
    """The model's forward pass in the precision asked for: for fast, int8 when it keeps the model's answers,
    else the float32 graph on ONNX Runtime; the Keras graph when neither can be made."""
    if precision == "fast" and spec.params > MAX_QUANTIZED_PARAMS and not is_plain(model):
        logger.warning("model %s serves in fp32: too large to export here (%d parameters)", spec.name, spec.params)
    elif precision == "fast":
        from recognizer.inference.quantized import QuantizationRejected, onnx_float_model, quantized_model

        graphs = {"int8": quantized_model, "fp32 on ONNX Runtime": onnx_float_model}
        for graph, make in graphs.items():
            try:
                return make(model, spec=spec, fingerprint=fingerprint, cache_dir=cache_dir)
            except QuantizationRejected as rejected:
                logger.warning("model %s does not serve %s: %s", spec.name, graph, rejected)
            except Exception:  # any failure to export or quantize leaves a slower graph serving
                logger.exception("model %s could not be served %s", spec.name, graph)
                break
    return CompiledModel(model, input_size=spec.input_size, concurrency=spec.concurrent_batches)
