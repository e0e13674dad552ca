"""The one path from image bytes to answers, used by every caller: pages, API, CLI, workers.

decode (once, at the size the models need) -> resize -> preprocess -> the model's batching engine
-> top k, the hedge and the confidence. `classify` asks one model; `compare` asks every usable model at
once (all queued together, one deadline) and, with two models or more, averages their probability vectors
into an ensemble. Each answer keeps its model input (the resized RGB pixels, raw), so `explain` can
draw a Grad-CAM heatmap of any class later, from that input alone, through the same compiled model.
"""

from __future__ import annotations

import base64
import functools
import io
import itertools
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from recognizer.inference.batching import PendingInference
from recognizer.inference.budget import DecodeBudget
from recognizer.inference.errors import InvalidInput, ModelNotReady
from recognizer.inference.hierarchy import CLASS_THRESHOLD, Confidence, Hedge, confidence, hedge
from recognizer.inference.imaging import (
    decode_image,
    decode_model_input,
    decoded_pixel_count,
    encode_model_input,
    encode_thumbnail,
    model_input_png,
    resize_to_array,
)
from recognizer.inference.labels import IMAGENET, LabelSpace, Prediction, top_k_predictions
from recognizer.inference.overlay import render_overlay_png
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


def hedge_dict(scores: np.ndarray, labels: LabelSpace = IMAGENET) -> dict[str, str | float] | None:
    """The hedged answer of a score vector (hierarchy.hedge) as the API and the history store it. A custom
    model's classes have no is-a tree to hedge with: None."""
    if not labels.is_imagenet:
        return None
    found: Hedge | None = hedge(scores)
    return found.as_dict() if found is not None else None


def confidence_of(scores: np.ndarray, labels: LabelSpace = IMAGENET) -> Confidence:
    """hierarchy.confidence for ImageNet; for a custom model's own classes, only whether its top-1 reaches
    the same `CLASS_THRESHOLD` (there is no hedge to fall back on)."""
    if labels.is_imagenet:
        return confidence(scores)
    return "high" if float(np.max(scores)) >= CLASS_THRESHOLD else "low"


@dataclass
class Classification:
    model: str
    predictions: list[Prediction]
    thumbnail: bytes  # a re-encoded JPEG of the upright photo, without the upload's metadata
    weights_fingerprint: str
    hedge: dict[str, str | float] | None
    confidence: Confidence
    timings_ms: dict[str, float] = field(default_factory=dict)
    # Exactly what the model saw (before normalisation), or None where no explanation can follow.
    seen: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def of_scores(
        cls,
        model: LoadedModel,
        scores: np.ndarray,
        *,
        top_k: int,
        thumbnail: bytes,
        timings_ms: dict[str, float],
        name: str | None = None,
        seen: np.ndarray | None = None,
    ) -> Classification:
        """A model's answer from its class scores: the top k, the hedge and the confidence in its label space.
        `name` is the model as the caller asked for it (default: the model's own)."""
        return cls(
            model=name or model.spec.name,
            predictions=top_k_predictions(scores, top_k, model.labels),
            thumbnail=thumbnail,
            weights_fingerprint=model.fingerprint,
            hedge=hedge_dict(scores, model.labels),
            confidence=confidence_of(scores, model.labels),
            timings_ms=timings_ms,
            seen=seen,
        )

    @functools.cached_property
    def model_input(self) -> bytes:
        """`seen` as stored (imaging.encode_model_input), copied only when asked for: the history keeps it for a
        later explanation; a batch job or the CLI never asks, and pays nothing."""
        return encode_model_input(self.seen) if self.seen is not None else b""

    def as_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "predictions": [prediction.as_dict() for prediction in self.predictions],
            "hedge": self.hedge,
            "confidence": self.confidence,
            "timings_ms": rounded(self.timings_ms),
        }


@dataclass
class ModelResult:
    model: str
    label: str
    predictions: list[Prediction]
    scores: np.ndarray
    model_input: bytes
    timings_ms: dict[str, float]
    labels: LabelSpace = IMAGENET

    @property
    def hedge(self) -> dict[str, str | float] | None:
        return hedge_dict(self.scores, self.labels)

    @property
    def confidence(self) -> Confidence:
        return confidence_of(self.scores, self.labels)

    def as_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "label": self.label,
            "kind": "imagenet" if self.labels.is_imagenet else "custom",
            "predictions": [prediction.as_dict() for prediction in self.predictions],
            "hedge": self.hedge,
            "confidence": self.confidence,
            "timings_ms": rounded(self.timings_ms),
        }


@dataclass
class Explanation:
    """Where the model looked for one class: the Grad-CAM grid and the photo with it drawn over."""

    model: str
    class_index: int
    heatmap: np.ndarray  # grid rows x columns, 0..1, rows top to bottom, in the upright photo's frame
    overlay: bytes  # PNG: the photo, the heatmap over it, a colour bar
    model_input: bytes  # PNG: what the model saw (imaging.model_input_png)
    timings_ms: dict[str, float]

    def as_dict(self) -> dict[str, object]:
        return {
            "class_index": self.class_index,
            "grid": np.round(self.heatmap.astype(np.float64), 4).tolist(),
            "overlay": png_data_uri(self.overlay),
            "model_input": png_data_uri(self.model_input),
        }


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


@dataclass
class Comparison:
    thumbnail: bytes
    results: list[ModelResult]
    skipped: list[dict[str, str]]
    ensemble_scores: np.ndarray | None  # None with fewer than two models (see mean_ensemble)
    ensemble: list[Prediction] | None
    timings_ms: dict[str, float] = field(default_factory=dict)

    def agreement(self) -> dict[str, object] | None:
        """Do the ImageNet models name the same top-1 class, and how much do their top-k sets overlap? (None
        for fewer than two.) Custom models stand beside them, outside: their classes are other classes."""
        imagenet = [result for result in self.results if result.labels.is_imagenet]
        if len(imagenet) < 2 or self.ensemble is None:
            return None
        top_sets = {result.model: {p.class_id for p in result.predictions} for result in imagenet}
        top1 = {result.predictions[0].class_id for result in imagenet}
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
            "ensemble": None
            if self.ensemble is None
            else {"predictions": [prediction.as_dict() for prediction in self.ensemble]},
            "agreement": self.agreement(),
            "skipped": self.skipped,
            "timings_ms": rounded(self.timings_ms),
        }


def mean_ensemble(results: Sequence[ModelResult], top_k: int) -> tuple[np.ndarray | None, list[Prediction] | None]:
    """The mean of the ImageNet models' probability vectors and its top k; no ensemble of fewer than two
    (the "mean" of one model is that model again, and would only repeat its column). Custom models never
    join: averaging scores of different label spaces would mean nothing."""
    imagenet = [result for result in results if result.labels.is_imagenet]
    if len(imagenet) < 2:
        return None, None
    scores = np.mean(np.stack([result.scores for result in imagenet]), axis=0)
    return scores, top_k_predictions(scores, top_k)


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
                    seen = resize_to_array(image, model.spec.input_size)
                    pixels = model.preprocess(seen)
                pending = admission.enqueue(pixels)
                thumbnail = encode_thumbnail(image)  # while the model runs (Pillow lets go of the GIL)
            inferred = pending.result()
        timings["queue"] = inferred.queue_ms
        timings["inference"] = inferred.inference_ms
        classification = Classification.of_scores(
            model, inferred.scores, top_k=top_k, thumbnail=thumbnail, timings_ms=timings, name=model_name, seen=seen
        )
        timings["total"] = (time.perf_counter() - started) * 1000.0
        return classification

    def explain(
        self, *, model_name: str, model_input: bytes, photo: bytes, class_index: int | None = None
    ) -> Explanation:
        """Grad-CAM of `class_index` (None: the top-1) for a stored model input, drawn over `photo`.

        Needs no upload: the stored model input is what the model saw. Timed as `explain` (gradients through
        the compiled model) and `overlay` (the heatmap drawn over the photo, and the model input as a PNG to show).
        """
        model = self.registry.get(model_name)
        if class_index is not None and not 0 <= class_index < len(model.labels):
            raise InvalidInput(f"Expected a class index from 0 to {len(model.labels) - 1}. Received {class_index}")
        timings: dict[str, float] = {}
        with timed(timings, "explain"):
            pixels = decode_model_input(model_input, size=model.spec.input_size)
            explained, heatmap = model.explain(pixels, class_index)
        with timed(timings, "overlay"):
            overlay = _render_overlay(photo, heatmap)
            shown_input = model_input_png(model_input)
        return Explanation(
            model=model_name,
            class_index=explained,
            heatmap=heatmap,
            overlay=overlay,
            model_input=shown_input,
            timings_ms=timings,
        )

    def explain_comparison(self, comparison: Comparison) -> dict[str, Explanation]:
        """Each compared model's top-1 heatmap, by model name."""
        return {
            result.model: self.explain(
                model_name=result.model, model_input=result.model_input, photo=comparison.thumbnail
            )
            for result in comparison.results
        }

    def compare(self, *, image_bytes: bytes, top_k: int = DEFAULT_TOP_K, custom: Sequence[str] = ()) -> Comparison:
        """Every usable catalogue model, and the `custom` models named, on one decoded image, queued together;
        the ensemble is the mean vector of the ImageNet models."""
        models, skipped = self._usable_models(custom)
        timings: dict[str, float] = {}
        started = time.perf_counter()
        per_model: dict[str, dict[str, float]] = {model.spec.name: {} for model in models}
        pending: list[PendingInference] = []
        with ExitStack() as admitted:
            admissions = [admitted.enter_context(model.admit()) for model in models]
            with self._decoded(image_bytes, models, timings) as image:
                seen: list[np.ndarray] = []
                inputs = []
                for model in models:
                    with timed(per_model[model.spec.name], "preprocess"):
                        seen.append(resize_to_array(image, model.spec.input_size))
                        inputs.append(model.preprocess(seen[-1]))
                thumbnail = encode_thumbnail(image)
            for admission, pixels in zip(admissions, inputs, strict=True):
                pending.append(admission.enqueue(pixels))
        deadline = time.perf_counter() + self.registry.engine_config.timeout_s
        results = []
        for model, waiting, model_input in zip(models, pending, seen, strict=True):
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
                    predictions=top_k_predictions(inferred.scores, top_k, model.labels),
                    scores=inferred.scores,
                    model_input=encode_model_input(model_input),
                    timings_ms=model_timings,
                    labels=model.labels,
                )
            )
        ensemble_scores, ensemble = mean_ensemble(results, top_k)
        timings["total"] = (time.perf_counter() - started) * 1000.0
        return Comparison(
            thumbnail=thumbnail,
            results=results,
            skipped=skipped,
            ensemble_scores=ensemble_scores,
            ensemble=ensemble,
            timings_ms=timings,
        )

    def _usable_models(self, custom: Sequence[str]) -> tuple[list[LoadedModel], list[dict[str, str]]]:
        models: list[LoadedModel] = []
        skipped: list[dict[str, str]] = []
        for name in [*self.registry.names, *custom]:
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


def _render_overlay(photo: bytes, heatmap: np.ndarray) -> bytes:
    with Image.open(io.BytesIO(photo)) as image:
        return render_overlay_png(image, heatmap)
