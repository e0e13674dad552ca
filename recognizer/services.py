"""Business logic shared by the page, the CLI and (later) the API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from PIL import Image

from recognizer.imaging import decode_image, resize_to_array
from recognizer.labels import Prediction, top_k_predictions
from recognizer.registry import ModelRegistry, get_registry

DEFAULT_TOP_K = 5
MAX_TOP_K = 20


@dataclass
class Classification:
    model: str
    predictions: list[Prediction]
    image: Image.Image
    timings_ms: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "predictions": [prediction.as_dict() for prediction in self.predictions],
            "timings_ms": {stage: round(ms, 2) for stage, ms in self.timings_ms.items()},
        }


@contextmanager
def timed(timings_ms: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings_ms[stage] = (time.perf_counter() - start) * 1000.0


def classify_image(
    *,
    image_bytes: bytes,
    model_name: str,
    top_k: int = DEFAULT_TOP_K,
    max_pixels: int,
    registry: ModelRegistry | None = None,
) -> Classification:
    """Decode -> preprocess -> queue -> batched compiled forward -> top k, with the time of each stage."""
    registry = registry or get_registry()
    model = registry.get(model_name)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with model.engine.admit() as admission:
        with timed(timings, "decode"):
            image = decode_image(image_bytes, max_pixels=max_pixels, target_size=model.spec.input_size)
        with timed(timings, "preprocess"):
            pixels = model.preprocess(resize_to_array(image, model.spec.input_size))
        inferred = admission.submit(pixels)
    timings["queue"] = inferred.queue_ms
    timings["inference"] = inferred.inference_ms
    predictions = top_k_predictions(inferred.scores, top_k)
    timings["total"] = (time.perf_counter() - started) * 1000.0
    return Classification(model=model_name, predictions=predictions, image=image, timings_ms=timings)
