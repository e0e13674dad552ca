"""The result cache on top of the history: a repeated upload in the same browser session is answered
from that session's stored entry.

The key is the browser session, the upload's SHA-256, the model, the exact weights it runs with (their
fingerprint: new weights never serve old answers) and top k. Only the session that made an entry is
ever answered from it: anyone else who posts the same bytes runs the model, so `"cached": true` and an
inference time of 0 tell nobody that someone else uploaded that image. The API, having no session,
is never answered from the cache. A hit is stored again for this session, marked `cached`, sharing
the first entry's thumbnail row (history/store.py).

Identical uploads in flight at once in one session wait for each other (a per-key lock in this
process), so the model runs once and the others are answered from its entry; across processes, the
cache answers those that arrive after the first is stored.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from recognizer.history.models import HistoryEntry
from recognizer.history.store import Outcome, read_model_input, read_thumbnail, store_entry
from recognizer.inference.pipeline import Pipeline


def upload_sha256(image_bytes: bytes) -> str:
    return hashlib.sha256(image_bytes).hexdigest()


class SingleFlight:
    """One holder per key at a time; a key's lock exists only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[tuple[str, ...], tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, key: tuple[str, ...]) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)


_IN_FLIGHT = SingleFlight()


def classify_with_history(
    *, pipeline: Pipeline, image_bytes: bytes, model_name: str, top_k: int, session_key: str
) -> HistoryEntry:
    """Classify (or answer from this session's cache) and store the result for this session."""
    registry = pipeline.registry
    model = registry.get(model_name)  # an unknown or unusable model is refused before any cache look-up
    digest = upload_sha256(image_bytes)
    if not session_key:
        return _classify_and_store(pipeline, image_bytes, model_name, top_k, session_key, digest)
    with _IN_FLIGHT.hold((session_key, digest, model_name, model.fingerprint, str(top_k))):
        started = time.perf_counter()
        cached = HistoryEntry.objects.filter(
            session_key=session_key, sha256=digest, model=model_name, weights_fingerprint=model.fingerprint, top_k=top_k
        ).first()
        thumbnail = read_thumbnail(cached) if cached is not None else None
        model_input = read_model_input(cached) if cached is not None else None
        if cached is None or thumbnail is None or model_input is None or not cached.confidence:
            return _classify_and_store(pipeline, image_bytes, model_name, top_k, session_key, digest)
        total_ms = (time.perf_counter() - started) * 1000.0
        outcome = Outcome(
            model=model_name,
            weights=registry.weights_kind(model.spec),
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


def _classify_and_store(
    pipeline: Pipeline, image_bytes: bytes, model_name: str, top_k: int, session_key: str, digest: str
) -> HistoryEntry:
    result = pipeline.classify(image_bytes=image_bytes, model_name=model_name, top_k=top_k)
    payload = result.as_dict()
    outcome = Outcome(
        model=model_name,
        weights=pipeline.registry.weights_kind(pipeline.registry.spec(model_name)),
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
