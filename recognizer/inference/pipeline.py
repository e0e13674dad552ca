"""The one path from image bytes to answers, used by every caller: pages, API, CLI, workers.

decode (once, at the size the models need) -> resize -> preprocess -> the model's batching engine
-> top k. `classify` asks one model; `compare` asks every usable model at once (all queued together,
one deadline) and averages their probability vectors into an ensemble.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from recognizer.inference.batching import PendingInference
from recognizer.inference.budget import DecodeBudget
from recognizer.inference.errors import ModelNotReady
from recognizer.inference.imaging import decode_image, decoded_pixel_count, encode_thumbnail, resize_to_array
from recognizer.inference.labels import Prediction, top_k_predictions
from recognizer.inference.registry import LoadedModel, ModelRegistry

DEFAULT_TOP_K = 5
MAX_TOP_K = 20


@contextmanager
def timed(timings_ms: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings_ms[stage] = (time.perf_counter() - start) * 1000.0


def rounded(timings_ms: dict[str, float]) -> dict[str, float]:
    return {stage: round(ms, 2) for stage, ms in timings_ms.items()}


@dataclass
class Classification:
    model: str
    predictions: list[Prediction]
    thumbnail: bytes  # a re-encoded JPEG of the upright photo, without the upload's metadata
    weights_fingerprint: str
    timings_ms: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "predictions": [prediction.as_dict() for prediction in self.predictions],
            "timings_ms": rounded(self.timings_ms),
        }


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
            "timings_ms": rounded(self.timings_ms),
        }


@dataclass
class Comparison:
    thumbnail: bytes
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
            "timings_ms": rounded(self.timings_ms),
        }


class Pipeline:
    """Every classification runs here, against one registry, under one pixel limit and, when given,
    the process's budget of decoded pixels in flight (held from decoding to the last model input)."""

    def __init__(self, registry: ModelRegistry, *, max_pixels: int, decode_budget: DecodeBudget | None = None) -> None:
        self.registry = registry
        self.max_pixels = max_pixels
        self.decode_budget = decode_budget

    def classify(self, *, image_bytes: bytes, model_name: str, top_k: int = DEFAULT_TOP_K) -> Classification:
        """Decode -> preprocess -> queue -> batched compiled forward -> top k, with the time of each stage."""
        model = self.registry.get(model_name)
        timings: dict[str, float] = {}
        started = time.perf_counter()
        with model.admit() as admission:
            with self._decoded(image_bytes, [model], timings) as image:
                with timed(timings, "preprocess"):
                    pixels = _model_input(model, image)
                thumbnail = encode_thumbnail(image)
            inferred = admission.submit(pixels)
        timings["queue"] = inferred.queue_ms
        timings["inference"] = inferred.inference_ms
        predictions = top_k_predictions(inferred.scores, top_k)
        timings["total"] = (time.perf_counter() - started) * 1000.0
        return Classification(
            model=model_name,
            predictions=predictions,
            thumbnail=thumbnail,
            weights_fingerprint=model.fingerprint,
            timings_ms=timings,
        )

    def compare(self, *, image_bytes: bytes, top_k: int = DEFAULT_TOP_K) -> Comparison:
        """Every usable model on one decoded image, queued together; their ensemble is the mean vector."""
        models, skipped = self._usable_models()
        timings: dict[str, float] = {}
        started = time.perf_counter()
        per_model: dict[str, dict[str, float]] = {model.spec.name: {} for model in models}
        pending: list[PendingInference] = []
        with ExitStack() as admitted:
            admissions = [admitted.enter_context(model.admit()) for model in models]
            with self._decoded(image_bytes, models, timings) as image:
                inputs = []
                for model in models:
                    with timed(per_model[model.spec.name], "preprocess"):
                        inputs.append(_model_input(model, image))
                thumbnail = encode_thumbnail(image)
            for admission, pixels in zip(admissions, inputs, strict=True):
                pending.append(admission.enqueue(pixels))
        deadline = time.perf_counter() + self.registry.engine_config.timeout_s
        results = []
        for model, waiting in zip(models, pending, strict=True):
            inferred = waiting.result(deadline=deadline)
            model_timings = {
                **per_model[model.spec.name],
                "queue": inferred.queue_ms,
                "inference": inferred.inference_ms,
            }
            results.append(
                ModelResult(
                    model=model.spec.name,
                    label=model.spec.label,
                    predictions=top_k_predictions(inferred.scores, top_k),
                    scores=inferred.scores,
                    timings_ms=model_timings,
                )
            )
        ensemble_scores = np.mean(np.stack([result.scores for result in results]), axis=0)
        timings["total"] = (time.perf_counter() - started) * 1000.0
        return Comparison(
            thumbnail=thumbnail,
            results=results,
            skipped=skipped,
            ensemble_scores=ensemble_scores,
            ensemble=top_k_predictions(ensemble_scores, top_k),
            timings_ms=timings,
        )

    def _usable_models(self) -> tuple[list[LoadedModel], list[dict[str, str]]]:
        models: list[LoadedModel] = []
        skipped: list[dict[str, str]] = []
        for name in self.registry.names:
            try:
                models.append(self.registry.get(name))
            except ModelNotReady as error:
                skipped.append({"model": name, "reason": str(error)})
        if not models:
            reasons = "; ".join(f"{item['model']}: {item['reason']}" for item in skipped)
            raise ModelNotReady(f"Expected at least one ready model to compare. Received none ready ({reasons})")
        return models, skipped

    @contextmanager
    def _decoded(
        self, image_bytes: bytes, models: Sequence[LoadedModel], timings: dict[str, float]
    ) -> Iterator[Image.Image]:
        """The decoded image for the block, its pixels reserved in the decode budget until the block ends.

        A large JPEG is decoded at the smallest DCT scale that still covers the largest model input; the
        budget is charged what is really decoded (read from the header), so a refusal costs no decoding.
        """
        target = max(model.spec.input_size for model in models)
        if self.decode_budget is None:
            reservation = nullcontext()
        else:
            pixels = decoded_pixel_count(image_bytes, max_pixels=self.max_pixels, target_size=target)
            reservation = self.decode_budget.reserve(pixels)
        with reservation:
            with timed(timings, "decode"):
                image = decode_image(image_bytes, max_pixels=self.max_pixels, target_size=target)
            try:
                yield image
            finally:
                image.close()
                del image


def _model_input(model: LoadedModel, image: Image.Image) -> np.ndarray:
    return model.preprocess(resize_to_array(image, model.spec.input_size))
