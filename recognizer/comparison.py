"""One upload, every usable model: per-model top k, an ensemble (mean of probability vectors), agreement."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from recognizer.errors import ModelNotReady
from recognizer.imaging import decode_image, resize_to_array
from recognizer.labels import Prediction, top_k_predictions
from recognizer.registry import ModelRegistry, get_registry
from recognizer.services import DEFAULT_TOP_K, timed


@dataclass
class ModelResult:
    model: str
    label: str
    predictions: list[Prediction]
    scores: np.ndarray
    timings_ms: dict[str, float]

    def as_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "label": self.label,
            "predictions": [prediction.as_dict() for prediction in self.predictions],
            "timings_ms": {stage: round(ms, 2) for stage, ms in self.timings_ms.items()},
        }


@dataclass
class Comparison:
    image: Image.Image
    results: list[ModelResult]
    skipped: list[dict[str, str]]
    ensemble_scores: np.ndarray
    ensemble: list[Prediction]
    timings_ms: dict[str, float] = field(default_factory=dict)

    def agreement(self) -> dict[str, object]:
        """Do the models name the same top-1 class, and how much do their top-k sets overlap?"""
        top_sets = {result.model: {p.class_id for p in result.predictions} for result in self.results}
        top1 = {result.predictions[0].class_id for result in self.results}
        shared = set.intersection(*top_sets.values())
        return {
            "same_top1": len(top1) == 1,
            "shared_top_k": [p.class_id for p in self.ensemble if p.class_id in shared]
            + sorted(shared - {p.class_id for p in self.ensemble}),
            "pairwise_overlap": [
                {"models": [a, b], "shared": len(top_sets[a] & top_sets[b])}
                for a, b in itertools.combinations(top_sets, 2)
            ],
        }

    def as_dict(self) -> dict[str, object]:
        return {
            "models": [result.as_dict() for result in self.results],
            "ensemble": {"predictions": [prediction.as_dict() for prediction in self.ensemble]},
            "agreement": self.agreement(),
            "skipped": self.skipped,
            "timings_ms": {stage: round(ms, 2) for stage, ms in self.timings_ms.items()},
        }


def compare_image(
    *,
    image_bytes: bytes,
    top_k: int = DEFAULT_TOP_K,
    max_pixels: int,
    registry: ModelRegistry | None = None,
) -> Comparison:
    """Decode once, run every usable model, and average their probability vectors into an ensemble."""
    registry = registry or get_registry()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with timed(timings, "decode"):
        image = decode_image(image_bytes, max_pixels=max_pixels)
    results: list[ModelResult] = []
    skipped: list[dict[str, str]] = []
    for status in registry.statuses():
        try:
            model = registry.get(status.name)
        except ModelNotReady as error:
            skipped.append({"model": status.name, "reason": str(error)})
            continue
        model_timings: dict[str, float] = {}
        with timed(model_timings, "preprocess"):
            pixels = model.preprocess(resize_to_array(image, model.spec.input_size))
        inferred = model.engine.submit(pixels)
        model_timings["queue"] = inferred.queue_ms
        model_timings["inference"] = inferred.inference_ms
        scores = inferred.scores
        results.append(
            ModelResult(
                model=status.name,
                label=status.label,
                predictions=top_k_predictions(scores, top_k),
                scores=scores,
                timings_ms=model_timings,
            )
        )
    if not results:
        reasons = "; ".join(f"{item['model']}: {item['reason']}" for item in skipped)
        raise ModelNotReady(f"Expected at least one ready model to compare. Received none ready ({reasons})")
    ensemble_scores = np.mean(np.stack([result.scores for result in results]), axis=0)
    timings["total"] = (time.perf_counter() - started) * 1000.0
    return Comparison(
        image=image,
        results=results,
        skipped=skipped,
        ensemble_scores=ensemble_scores,
        ensemble=top_k_predictions(ensemble_scores, top_k),
        timings_ms=timings,
    )
