"""A model's forward pass in int8 (IMGREC_PRECISION=fast): ONNX Runtime on a statically quantized graph.

The Keras model is exported to ONNX (written layer by layer for a plain chain such as VGG19, plain_onnx.py;
through tf2onnx otherwise), then quantized with ONNX Runtime's static quantization:
int8 weights per output channel (7 bits on a CPU without VNNI, see has_vnni), uint8 activations whose ranges
come from real photos (calibration.py).
The softmax stays float, so scores keep their resolution. Quantizing takes tens of seconds for a large
model, so the result is cached on disk, keyed by the weights' fingerprint, the calibration set and the
runtime's version; random weights differ at every load, so theirs are quantized again each time and never
cached. A quantized model of real weights serves only if it gives the float32 model's top-1 on each
calibration photo checked (a graph that quantizes badly is refused, and the model serves in fp32); random
weights have no answer to keep, so theirs is not checked. Explanations (Grad-CAM) need gradients, which
the int8 graph has none of: they run the float32 Keras model, which this object keeps.
"""

from __future__ import annotations

import functools
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from recognizer.inference.calibration import Calibration, available_calibration
from recognizer.inference.compiled import CompiledModel
from recognizer.inference.plain_onnx import plain_graph

if TYPE_CHECKING:
    import keras
    import onnx
    import onnxruntime

    from recognizer.inference.catalog import ModelSpec

logger = logging.getLogger(__name__)

INPUT_NAME = "input"
OPSET = 17
CALIBRATION_STRIDE = 4  # photos whose activations are reduced to ranges together (see quantize's Reader)
AGREEMENT_PHOTOS = 16  # calibration views checked: every one must keep its float32 top-1


class QuantizationRejected(Exception):
    """The int8 graph changes answers the float32 model gives: serving it would be wrong, not fast."""


class QuantizedModel(CompiledModel):
    """A CompiledModel whose forward runs the int8 graph; its explanations run the float32 Keras model."""

    precision = "int8"

    def __init__(self, model: keras.Model, *, input_size: int, session: onnxruntime.InferenceSession) -> None:
        super().__init__(model, input_size=input_size)
        self._session = session

    def forward(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:
            return self._session.run(None, {INPUT_NAME: np.asarray(batch, dtype=np.float32)})[0]


def quantized_model(
    model: keras.Model, *, spec: ModelSpec, fingerprint: str, cache_dir: Path, calibration: Calibration | None = None
) -> QuantizedModel:
    """The int8 twin of `model`, read from the cache or quantized now (and cached, for real weights)."""
    calibration = calibration or available_calibration()
    cached = cache_path(spec, fingerprint=fingerprint, cache_dir=cache_dir, calibration=calibration)
    if cached.is_file():
        return _checked(QuantizedModel(model, input_size=spec.input_size, session=_session(cached)), spec, calibration)
    with tempfile.TemporaryDirectory(prefix="imgrec-quantize-") as scratch:
        started = time.perf_counter()
        quantized = quantize(model, spec=spec, calibration=calibration, scratch=Path(scratch))
        logger.info("model %s quantized to int8 in %.1f s", spec.name, time.perf_counter() - started)
        if fingerprint.startswith("random-"):
            return QuantizedModel(model, input_size=spec.input_size, session=_session(quantized))
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.partial")
        quantized.replace(partial)
        partial.replace(cached)  # atomic: a concurrent reader sees the whole file or none
    return _checked(QuantizedModel(model, input_size=spec.input_size, session=_session(cached)), spec, calibration)


def _checked(quantized: QuantizedModel, spec: ModelSpec, calibration: Calibration) -> QuantizedModel:
    """The quantized model, if it keeps the float32 top-1 on the first calibration views; else refused."""
    views = calibration.batches(size=spec.input_size, preprocess=spec.preprocess)
    batch = np.concatenate([view for view, _ in zip(views, range(AGREEMENT_PHOTOS), strict=False)])
    expected = CompiledModel(quantized.model, input_size=spec.input_size).forward(batch).argmax(axis=1)
    agreed = int(np.sum(quantized.forward(batch).argmax(axis=1) == expected))
    if agreed < len(batch):
        raise QuantizationRejected(
            f"Expected the int8 {spec.name} to keep the fp32 top-1 on all {len(batch)} calibration photos. "
            f"Received {agreed} of {len(batch)}"
        )
    return quantized


def cache_path(spec: ModelSpec, *, fingerprint: str, cache_dir: Path, calibration: Calibration) -> Path:
    import onnxruntime

    weights = "w8" if has_vnni() else "w7"  # a cache copied to a CPU of the other kind is quantized again
    name = f"{spec.name}-{fingerprint}-{calibration.name}-{weights}-ort{onnxruntime.__version__}.onnx"
    return cache_dir / "int8" / name


def quantize(model: keras.Model, *, spec: ModelSpec, calibration: Calibration, scratch: Path) -> Path:
    """Export `model` to ONNX, then quantize it statically on the calibration photos; returns the file."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    exported = plain_graph(model, input_name=INPUT_NAME, opset=OPSET) or _through_tf2onnx(model, spec)
    float_path, prepared_path, int8_path = scratch / "float.onnx", scratch / "prepared.onnx", scratch / "int8.onnx"
    onnx.save(exported, str(float_path))
    del exported
    quant_pre_process(str(float_path), str(prepared_path), skip_symbolic_shape=True)
    photos = [
        batch.astype(np.float32) for batch in calibration.batches(size=spec.input_size, preprocess=spec.preprocess)
    ]

    class Reader(CalibrationDataReader):
        """The calibration photos, a stride at a time: ONNX Runtime keeps the outputs of every photo it has read
        until it reduces them to ranges; with a stride it reduces every 4 photos instead of holding all 64."""

        def __init__(self) -> None:
            self.pending = iter(photos)

        def __len__(self) -> int:
            return len(photos)

        def set_range(self, start_index: int, end_index: int) -> None:
            self.pending = iter(photos[start_index:end_index])

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.pending, None)
            return None if batch is None else {INPUT_NAME: batch}

    softmax = [node.name for node in onnx.load(str(prepared_path)).graph.node if node.op_type == "Softmax"]
    quantize_static(
        str(prepared_path),
        str(int8_path),
        Reader(),
        quant_format=QuantFormat.QOperator,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
        reduce_range=not has_vnni(),
        nodes_to_exclude=softmax,
        extra_options={"CalibStridedMinMax": CALIBRATION_STRIDE if len(photos) % CALIBRATION_STRIDE == 0 else 1},
    )
    return int8_path


def _through_tf2onnx(model: keras.Model, spec: ModelSpec) -> onnx.ModelProto:
    """Any Keras model, through TensorFlow's graph (frozen and optimized: memory-hungry for large weights)."""
    import tensorflow as tf
    import tf2onnx

    signature = [tf.TensorSpec([None, spec.input_size, spec.input_size, 3], tf.float32, name=INPUT_NAME)]
    forward = tf.function(lambda batch: model(batch, training=False), input_signature=signature)
    exported, _ = tf2onnx.convert.from_function(forward, input_signature=signature, opset=OPSET)
    return exported


VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})


@functools.cache
def has_vnni(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU has VNNI (u8 x s8 products summed straight into int32). Without it, ONNX Runtime sums
    pairs of products in int16 (AVX2's vpmaddubsw), which 8-bit weights can saturate: there weights are
    quantized to 7 bits (`reduce_range`). With it, 7-bit weights only cost accuracy: EfficientNet-Lite0 kept
    its fp32 top-1 on 58% of the wheels' photos and crops with 7 bits, 79% with 8 (docs/architecture.md)."""
    try:
        flags = next(line for line in cpuinfo.read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        return False  # not Linux, or not readable: the safe choice is 7 bits
    return bool(VNNI_FLAGS & set(flags.split(":", 1)[1].split()))


def _session(path: Path) -> onnxruntime.InferenceSession:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
