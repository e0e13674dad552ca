"""(7) IMGREC_PRECISION=fast: what it serves (int8 on ONNX Runtime, or the float32 export where int8 would
change answers) against the fp32 Keras graph, interleaved in this process, and how often EfficientNet-Lite0
(real weights) gives the same top-1 on the wheels' photos and their crops."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import Row, Section, median, time_forward, verdict
from bench.context import Bench
from tests.inference.photos import held_out_views

# VGG19 is written to ONNX layer by layer (inference/plain_onnx.py), the others through tf2onnx.
MODELS = ("resnet50", "vgg19", "efficientnet_lite0")


def run(bench: Bench) -> Section:
    from recognizer.inference.catalog import SPECS_BY_NAME
    from recognizer.inference.compiled import CompiledModel
    from recognizer.inference.precision import compile_model
    from recognizer.inference.quantized import has_vnni, quantized_model

    options = bench.options
    section = Section("IMGREC_PRECISION=fast (ONNX Runtime: int8, or the float32 export) vs fp32 (Keras), bare forward")
    for name in MODELS:
        spec = SPECS_BY_NAME[name]
        weights = spec.bundled_weights() if spec.bundled_weights is not None else None
        # Real weights are checked as the server checks them (an int8 graph that changes answers is refused).
        fingerprint = "bench-real-weights" if weights is not None else "random-bench"
        with tempfile.TemporaryDirectory(prefix="imgrec-bench-int8-") as cache:
            model = spec.build(weights, cache_dir=Path(cache))
            fp32 = CompiledModel(model, input_size=spec.input_size)
            started = time.perf_counter()
            fast = compile_model(model, spec=spec, precision="fast", fingerprint=fingerprint, cache_dir=Path(cache))
            prepare_s = time.perf_counter() - started
        served = f"{fast.precision} on ONNX Runtime" if fast.runtime == "onnxruntime" else f"{fast.precision} on Keras"
        kind = "real weights" if weights is not None else "random weights"
        section.notes.append(f"{name} ({kind}): serves {served}; export, calibration and checks took {prepare_s:.0f} s")
        for batch_size, repeats, target in ((1, int(options.pick(20, 8)), 1.2), (16, int(options.pick(4, 2)), 1.5)):
            fp32_ms, fast_ms = interleaved(fp32, fast, batch_size, repeats)
            ratio = fp32_ms / fast_ms
            section.rows.append(
                Row(
                    f"{name} fast ({served}) batch {batch_size}, images/s (p50 of {repeats})",
                    f"{batch_size * 1000 / fast_ms:.1f} images/s ({fast_ms:.1f} ms)",
                    f"{batch_size * 1000 / fp32_ms:.1f} images/s fp32 ({fp32_ms:.1f} ms)",
                    f"{ratio:.2f}",
                    f">= {target}",
                    verdict(ratio >= target),
                )
            )
        if weights is not None:
            agreement, count = top1_agreement(fp32, fast, spec.preprocess, spec.input_size)
            section.rows.append(
                Row(
                    f"{name} top-1 agreement fast ({served}) vs fp32, {count} wheel photos and crops",
                    f"{agreement:.1%}",
                    target=">= 99%",
                    met=verdict(agreement >= 0.99),
                )
            )
            if fast.precision != "int8":  # what the refused int8 graph would have given, unchecked
                with tempfile.TemporaryDirectory(prefix="imgrec-bench-int8-") as cache:
                    int8 = quantized_model(model, spec=spec, fingerprint="random-unchecked", cache_dir=Path(cache))
                int8_agreement, _ = top1_agreement(fp32, int8, spec.preprocess, spec.input_size)
                int8_b1 = median(time_forward(int8, 1, int(options.pick(20, 8))))
                section.notes.append(
                    f"{name}: its int8 graph, refused, would keep the fp32 top-1 on {int8_agreement:.1%} of the "
                    f"{count} views (batch 1: {int8_b1:.1f} ms)"
                )
    section.notes.append("ResNet50 and VGG19 have random weights here: their speed counts, their agreement does not")
    bits = "VNNI: weights in 8 bits" if has_vnni() else "no VNNI: weights in 7 bits (reduce_range)"
    section.notes.append(f"this CPU has {bits} (quantized.has_vnni)")
    return section


def interleaved(fp32: object, fast: object, batch_size: int, repeats: int) -> tuple[float, float]:
    """Median milliseconds of each forward, alternating calls so both see the same machine load."""
    size = fp32.input_size  # type: ignore[attr-defined]
    batch = np.random.default_rng(2).uniform(-1, 1, size=(batch_size, size, size, 3)).astype(np.float32)
    times: dict[int, list[float]] = {0: [], 1: []}
    for model in (fp32, fast):
        model.forward(batch)  # type: ignore[attr-defined]
    for _ in range(repeats):
        for index, model in enumerate((fp32, fast)):
            started = time.perf_counter()
            model.forward(batch)  # type: ignore[attr-defined]
            times[index].append((time.perf_counter() - started) * 1000.0)
    return median(times[0]), median(times[1])


def top1_agreement(fp32: object, fast: object, preprocess: object, size: int) -> tuple[float, int]:
    batch = np.stack([preprocess(view[np.newaxis])[0] for view in held_out_views(size)])  # type: ignore[operator]
    chunks = range(0, len(batch), 16)
    expected = np.concatenate([fp32.forward(batch[i : i + 16]) for i in chunks])  # type: ignore[attr-defined]
    served = np.concatenate([fast.forward(batch[i : i + 16]) for i in chunks])  # type: ignore[attr-defined]
    return float(np.mean(expected.argmax(axis=1) == served.argmax(axis=1))), len(batch)
