"""A model's forward pass on ONNX Runtime (IMGREC_PRECISION=fast): int8, else the float32 graph.

The Keras model is exported to ONNX (written layer by layer for a plain chain such as VGG19, plain_onnx.py;
through tf2onnx otherwise), then quantized with ONNX Runtime's static quantization: int8 weights per output
channel (7 bits on a CPU without VNNI, see has_vnni), uint8 activations whose ranges come from real photos
(calibration.py). The softmax stays float, so scores keep their resolution.

Quantizing takes tens of seconds for a large model, so the result is cached on disk, keyed by the weights'
fingerprint, the calibration set and the runtime's version; random weights differ at every load, so theirs
are quantized again each time and never cached. A graph of real weights serves only if it gives the Keras
model's top-1 on each calibration photo checked: an int8 graph that changes answers is refused
(QuantizationRejected), its float32 export is cached in its place, and `onnx_float_model` serves that instead:
the same arithmetic as Keras (differences of about 1e-6) without TensorFlow's per-operation overhead
(EfficientNet-Lite0: 4.3x faster at batch 1, 2.6x at batch 16, docs/architecture.md). Random weights have
no answer to keep, so theirs is not checked.

Explanations (Grad-CAM) need gradients, which an ONNX graph has none of: they run the float32 Keras model,
which this object keeps.
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
    """An ONNX graph changes answers the Keras model gives: serving it would be wrong, not fast."""


class OnnxModel(CompiledModel):
    """A CompiledModel whose forward runs an ONNX Runtime graph (`precision` int8, or fp32 for the float32
    export); its explanations run the float32 Keras model."""

    runtime = "onnxruntime"

    def __init__(
        self, model: keras.Model, *, input_size: int, session: onnxruntime.InferenceSession, precision: str = "int8"
    ) -> None:
        super().__init__(model, input_size=input_size)
        self._session = session
        self.precision = precision

    def forward(self, batch: np.ndarray) -> np.ndarray:
        with self._slots:
            return self._session.run(None, {INPUT_NAME: np.asarray(batch, dtype=np.float32)})[0]


def quantized_model(
    model: keras.Model, *, spec: ModelSpec, fingerprint: str, cache_dir: Path, calibration: Calibration | None = None
) -> OnnxModel:
    """The int8 twin of `model`, read from the cache or quantized now (and cached, for real weights); raises
    QuantizationRejected when it changes the Keras model's answers, caching the float32 export instead.

    The cache holds one graph per weights: the int8 one, or the float32 export where int8 was refused, so a
    refusal is decided once, not again at every start."""
    calibration = calibration or available_calibration()
    cached = cache_path(spec, fingerprint=fingerprint, cache_dir=cache_dir, calibration=calibration)
    if float_path(cached).is_file():
        raise QuantizationRejected(
            f"Expected an int8 {spec.name} that keeps the fp32 top-1. Received the refusal of an earlier start: "
            f"its float32 export is cached instead ({float_path(cached).name})"
        )
    if cached.is_file():
        return _checked(_onnx_model(model, spec, cached, "int8"), spec, calibration)
    with tempfile.TemporaryDirectory(prefix="imgrec-quantize-") as scratch:
        started = time.perf_counter()
        exported, quantized = quantize(model, spec=spec, calibration=calibration, scratch=Path(scratch))
        logger.info("model %s quantized to int8 in %.1f s", spec.name, time.perf_counter() - started)
        if fingerprint.startswith("random-"):
            return _onnx_model(model, spec, quantized, "int8")
        try:
            served = _checked(_onnx_model(model, spec, quantized, "int8"), spec, calibration)
        except QuantizationRejected:
            _publish(exported, float_path(cached))  # what serves instead (onnx_float_model)
            raise
        _publish(quantized, cached)  # the session has read the file: moving it leaves the model serving
    return served


def onnx_float_model(
    model: keras.Model, *, spec: ModelSpec, fingerprint: str, cache_dir: Path, calibration: Calibration | None = None
) -> OnnxModel:
    """`model`'s float32 export on ONNX Runtime: the cached one `quantized_model` left, or exported now (and
    cached for real weights); checked like the int8 graph."""
    calibration = calibration or available_calibration()
    cached = float_path(cache_path(spec, fingerprint=fingerprint, cache_dir=cache_dir, calibration=calibration))
    if not cached.is_file():
        with tempfile.TemporaryDirectory(prefix="imgrec-export-") as scratch:
            exported = export(model, spec=spec, scratch=Path(scratch))
            if fingerprint.startswith("random-"):
                return _onnx_model(model, spec, exported, "fp32")
            _publish(exported, cached)
    return _checked(_onnx_model(model, spec, cached, "fp32"), spec, calibration)


def _onnx_model(model: keras.Model, spec: ModelSpec, path: Path, precision: str) -> OnnxModel:
    return OnnxModel(model, input_size=spec.input_size, session=_session(path), precision=precision)


def _publish(path: Path, destination: Path) -> None:
    """Move a finished file into the cache atomically: a concurrent reader sees the whole file or none."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_suffix(f".{os.getpid()}.partial")
    path.replace(partial)
    partial.replace(destination)


def _checked(served: OnnxModel, spec: ModelSpec, calibration: Calibration) -> OnnxModel:
    """The ONNX model, if it keeps the Keras model's top-1 on the first calibration views; else refused."""
    views = calibration.batches(size=spec.input_size, preprocess=spec.preprocess)
    batch = np.concatenate([view for view, _ in zip(views, range(AGREEMENT_PHOTOS), strict=False)])
    expected = CompiledModel(served.model, input_size=spec.input_size).forward(batch).argmax(axis=1)
    agreed = int(np.sum(served.forward(batch).argmax(axis=1) == expected))
    if agreed < len(batch):
        raise QuantizationRejected(
            f"Expected the {served.precision} {spec.name} to keep the fp32 top-1 on all {len(batch)} calibration "
            f"photos. Received {agreed} of {len(batch)}"
        )
    return served


def cache_path(spec: ModelSpec, *, fingerprint: str, cache_dir: Path, calibration: Calibration) -> Path:
    import onnxruntime

    weights = "w8" if has_vnni() else "w7"  # a cache copied to a CPU of the other kind is quantized again
    name = f"{spec.name}-{fingerprint}-{calibration.name}-{weights}-ort{onnxruntime.__version__}.onnx"
    return cache_dir / "int8" / name


def float_path(int8_path: Path) -> Path:
    """Where the float32 export is cached for weights whose int8 graph was refused: beside the int8 graph's place."""
    return int8_path.with_name(int8_path.name.removesuffix(".onnx") + "-fp32.onnx")


def export(model: keras.Model, *, spec: ModelSpec, scratch: Path) -> Path:
    """`model` as a float32 ONNX file in `scratch`."""
    import onnx

    exported = plain_graph(model, input_name=INPUT_NAME, opset=OPSET) or _through_tf2onnx(model, spec)
    path = scratch / "float.onnx"
    onnx.save(exported, str(path))
    return path


def quantize(model: keras.Model, *, spec: ModelSpec, calibration: Calibration, scratch: Path) -> tuple[Path, Path]:
    """Export `model` to ONNX, then quantize it statically on the calibration photos; returns the float32 and
    the int8 file."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    exported = export(model, spec=spec, scratch=scratch)
    prepared_path, int8_path = scratch / "prepared.onnx", scratch / "int8.onnx"
    quant_pre_process(str(exported), str(prepared_path), skip_symbolic_shape=True)
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
    return exported, int8_path


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
