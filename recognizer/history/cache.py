"""The result cache on top of the history: a repeated upload is answered from its stored entry.

The key is the upload's SHA-256, the model, the exact weights it runs with (their fingerprint: new
weights never serve old answers) and top k. A hit is stored again for this session, marked `cached`.
"""

from __future__ import annotations

import hashlib
import time

from recognizer.history.models import HistoryEntry
from recognizer.history.store import Outcome, read_model_input, read_thumbnail, store_entry
from recognizer.inference.pipeline import Pipeline


def upload_sha256(image_bytes: bytes) -> str:
    return hashlib.sha256(image_bytes).hexdigest()


def classify_with_history(
    *, pipeline: Pipeline, image_bytes: bytes, model_name: str, top_k: int, session_key: str
) -> HistoryEntry:
    """Classify (or answer from the cache) and store the result for this session."""
    registry = pipeline.registry
    model = registry.get(model_name)  # an unknown or unusable model is refused before any cache look-up
    weights = registry.weights_kind(model.spec)
    started = time.perf_counter()
    digest = upload_sha256(image_bytes)
    cached = HistoryEntry.objects.filter(
        sha256=digest, model=model_name, weights_fingerprint=model.fingerprint, top_k=top_k
    ).first()
    thumbnail = read_thumbnail(cached) if cached is not None else None
    model_input = read_model_input(cached) if cached is not None else None
    if cached is not None and thumbnail is not None and model_input is not None and cached.confidence:
        total_ms = (time.perf_counter() - started) * 1000.0
        outcome = Outcome(
            model=model_name,
            weights=weights,
            weights_fingerprint=model.fingerprint,
            top_k=top_k,
            predictions=cached.predictions,
            timings_ms={"decode": 0.0, "preprocess": 0.0, "inference": 0.0, "total": round(total_ms, 2)},
            sha256=digest,
            thumbnail=thumbnail,
            model_input=model_input,
            hedge=cached.hedge,
            confidence=cached.confidence,
            cached=True,
        )
        return store_entry(outcome, session_key=session_key)
    result = pipeline.classify(image_bytes=image_bytes, model_name=model_name, top_k=top_k)
    payload = result.as_dict()
    outcome = Outcome(
        model=model_name,
        weights=weights,
        weights_fingerprint=result.weights_fingerprint,
        top_k=top_k,
        predictions=payload["predictions"],
        timings_ms=payload["timings_ms"],
        sha256=digest,
        thumbnail=result.thumbnail,
        model_input=result.model_input,
        hedge=result.hedge,
        confidence=result.confidence,
        cached=False,
    )
    return store_entry(outcome, session_key=session_key)
