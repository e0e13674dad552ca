"""Per-session history of classifications, the result cache built on it, export and purge.

Every classification becomes a `HistoryEntry` with a re-encoded JPEG thumbnail (at most 256 px,
no metadata) under a random name in MEDIA_ROOT; the upload itself is never kept. A repeated upload
(same SHA-256, model and top_k) is answered from the newest stored entry without running the model.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import time
from collections.abc import Iterable
from datetime import timedelta

import pandas as pd
from django.core.files.base import ContentFile
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from recognizer.imaging import encode_thumbnail
from recognizer.models import HistoryEntry
from recognizer.registry import ModelRegistry, get_registry
from recognizer.services import classify_image

EXPORT_COLUMNS = (
    "id",
    "created_at",
    "model",
    "weights",
    "top_k",
    "cached",
    "sha256",
    "rank",
    "label",
    "class_id",
    "index",
    "score",
)


def upload_sha256(image_bytes: bytes) -> str:
    return hashlib.sha256(image_bytes).hexdigest()


def classify_with_history(
    *,
    image_bytes: bytes,
    model_name: str,
    top_k: int,
    max_pixels: int,
    session_key: str,
    registry: ModelRegistry | None = None,
) -> HistoryEntry:
    """Classify (or answer from the cache) and store the result for this session."""
    registry = registry or get_registry()
    # An unknown model is a 404 even when a cache entry could match; random and real weights never mix.
    weights = registry.weights_kind(registry.spec(model_name))
    started = time.perf_counter()
    digest = upload_sha256(image_bytes)
    cached = _cached_entry(sha256=digest, model_name=model_name, weights=weights, top_k=top_k)
    if cached is not None:
        thumbnail = _read_thumbnail(cached)
        if thumbnail is not None:
            total_ms = (time.perf_counter() - started) * 1000.0
            return _store(
                session_key=session_key,
                model_name=model_name,
                weights=weights,
                top_k=top_k,
                predictions=cached.predictions,
                timings_ms={"decode": 0.0, "preprocess": 0.0, "inference": 0.0, "total": round(total_ms, 2)},
                sha256=digest,
                thumbnail=thumbnail,
                cached=True,
            )
    result = classify_image(
        image_bytes=image_bytes, model_name=model_name, top_k=top_k, max_pixels=max_pixels, registry=registry
    )
    payload = result.as_dict()
    return _store(
        session_key=session_key,
        model_name=model_name,
        weights=weights,
        top_k=top_k,
        predictions=payload["predictions"],
        timings_ms=payload["timings_ms"],
        sha256=digest,
        thumbnail=encode_thumbnail(result.image),
        cached=False,
    )


def _cached_entry(*, sha256: str, model_name: str, weights: str, top_k: int) -> HistoryEntry | None:
    return HistoryEntry.objects.filter(sha256=sha256, model=model_name, weights=weights, top_k=top_k).first()


def _read_thumbnail(entry: HistoryEntry) -> bytes | None:
    try:
        with entry.thumbnail.open("rb") as file:
            return file.read()
    except (OSError, ValueError):  # the file was removed behind our back: classify again
        return None


def _store(
    *,
    session_key: str,
    model_name: str,
    weights: str,
    top_k: int,
    predictions: list,
    timings_ms: dict,
    sha256: str,
    thumbnail: bytes,
    cached: bool,
) -> HistoryEntry:
    entry = HistoryEntry(
        session_key=session_key,
        model=model_name,
        weights=weights,
        top_k=top_k,
        predictions=predictions,
        timings_ms=timings_ms,
        sha256=sha256,
        cached=cached,
    )
    # Each entry owns its file, so deleting one entry never breaks another's thumbnail.
    entry.thumbnail.save(f"{secrets.token_urlsafe(18)}.jpg", ContentFile(thumbnail), save=False)
    entry.save()
    return entry


def session_history(*, session_key: str | None) -> QuerySet[HistoryEntry]:
    """This session's entries, newest first; nothing at all for a request without a session."""
    if not session_key:
        return HistoryEntry.objects.none()
    return HistoryEntry.objects.filter(session_key=session_key)


def delete_history_entry(*, entry_id: object, session_key: str | None) -> bool:
    """Delete one of this session's entries and its thumbnail; False when it is not this session's."""
    entry = session_history(session_key=session_key).filter(id=entry_id).first()
    if entry is None:
        return False
    delete_entries([entry])
    return True


def delete_entries(entries: Iterable[HistoryEntry]) -> int:
    count = 0
    for entry in entries:
        if entry.thumbnail:
            entry.thumbnail.delete(save=False)
        entry.delete()
        count += 1
    return count


def purge_history(*, older_than_days: int) -> int:
    """Delete entries older than the given number of days, with their thumbnails. Returns how many."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    return delete_entries(HistoryEntry.objects.filter(created_at__lt=cutoff).iterator())


def _entry_fields(entry: HistoryEntry) -> dict[str, object]:
    return {
        "id": str(entry.id),
        "created_at": entry.created_at.isoformat(),
        "model": entry.model,
        "weights": entry.weights,
        "top_k": entry.top_k,
        "cached": entry.cached,
        "sha256": entry.sha256,
    }


def entry_as_dict(entry: HistoryEntry) -> dict[str, object]:
    return {**_entry_fields(entry), "predictions": entry.predictions, "timings_ms": entry.timings_ms}


def export_json(entries: Iterable[HistoryEntry]) -> str:
    return json.dumps({"history": [entry_as_dict(entry) for entry in entries]}, indent=2)


def export_csv(entries: Iterable[HistoryEntry]) -> str:
    """One row per prediction: the entry's fields repeated, then rank, label, class id, index and score."""
    rows = [
        {**_entry_fields(entry), "rank": rank, **prediction}
        for entry in entries
        for rank, prediction in enumerate(entry.predictions, start=1)
    ]
    buffer = io.StringIO()
    pd.DataFrame(rows, columns=list(EXPORT_COLUMNS)).to_csv(buffer, index=False)
    return buffer.getvalue()


def session_key_of(request: HttpRequest, *, create: bool) -> str | None:
    """The browser session's key; with create=True a session (and its cookie) is started if needed."""
    if request.session.session_key is None and create:
        request.session["keeps_history"] = True  # a modified session is saved and its cookie sent
        request.session.save()
    return request.session.session_key
