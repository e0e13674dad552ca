"""(7) Grad-CAM vs the bare forward pass, batch 1, per model (target: at most 3x).

Both through the model's own CompiledModel, in this process: `forward` (the traced `model(x)`) and
`explain` (the GradCam the pages and the API use, built once per model, under the same lock). ResNet50
and VGG19 have random weights (same arithmetic), EfficientNet-Lite0 its real bundled ones. The two are
measured interleaved, one forward then one explanation, so both see the same load on a shared machine.

Alone: `python -m bench.explain [--quick]`.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from bench.common import Options, Row, Section, median, verdict
from bench.context import Bench

MODELS = ("resnet50", "vgg19", "efficientnet_lite0")
TARGET_RATIO = 3.0


def interleaved_ms(compiled: object, repeats: int) -> tuple[float, list[float], list[float]]:
    """The first Grad-CAM (it builds and traces the GradCam), then `repeats` forward passes and `repeats`
    Grad-CAMs of one image, alternating; all in milliseconds."""
    size = compiled.input_size  # type: ignore[attr-defined]
    image = np.random.default_rng(2).uniform(-120, 150, size=(size, size, 3)).astype(np.float32)
    batch = image[np.newaxis]
    start = time.perf_counter()
    compiled.explain(image)  # type: ignore[attr-defined]
    first_ms = (time.perf_counter() - start) * 1000.0
    forward, explain = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        compiled.forward(batch)  # type: ignore[attr-defined]
        forward.append((time.perf_counter() - start) * 1000.0)
        start = time.perf_counter()
        compiled.explain(image)  # type: ignore[attr-defined]
        explain.append((time.perf_counter() - start) * 1000.0)
    return first_ms, forward, explain


def measure(options: Options) -> Section:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imgrec_site.settings")
    from recognizer.inference.catalog import SPECS_BY_NAME
    from recognizer.inference.registry import ModelRegistry

    section = Section("Grad-CAM (explain) vs the bare forward pass, batch 1, in-process")
    repeats = int(options.pick(20, 6))
    registry = ModelRegistry([SPECS_BY_NAME[name] for name in MODELS], weights_mode="random")
    try:
        for name in MODELS:
            compiled = registry.get(name).compiled
            first_ms, forward, explain = interleaved_ms(compiled, repeats)
            ratio = median(explain) / median(forward)
            section.rows.append(
                Row(
                    f"{name} explain p50 of {repeats} ({registry.weights_kind(registry.spec(name))} weights)",
                    f"{median(explain):.1f} ms",
                    f"{median(forward):.1f} ms forward",
                    f"{ratio:.2f}x",
                    f"<= {TARGET_RATIO:.0f}x",
                    verdict(ratio <= TARGET_RATIO),
                )
            )
            section.rows.append(Row(f"{name} first explain (builds and traces its GradCam)", f"{first_ms:.0f} ms"))
    finally:
        registry.close()
    section.notes.append(
        "explain = forward to the last conv block's maps and the class score, the gradient back to the maps "
        "(through pooling and the classifier only), the channel-weighted sum; the overlay drawing is not included"
    )
    return section


def run(bench: Bench) -> Section:
    return measure(bench.options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    measure(Options(quick=parser.parse_args().quick)).print()


if __name__ == "__main__":
    main()
