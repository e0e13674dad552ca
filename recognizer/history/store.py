"""Stored classifications: write one with its thumbnail file, list a session's, delete, purge.

Each entry owns its thumbnail and model-input files (random names in MEDIA_ROOT), so deleting one entry
never breaks another's pictures; rows and their files are always deleted together.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.core.files.base import ContentFile
from django.db.models import QuerySet
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from recognizer.history.models import HistoryEntry


@dataclass(frozen=True)
class Outcome:
    """What one classification produced, ready to be stored."""

    model: str
    weights: str
    weights_fingerprint: str
    top_k: int
    predictions: list[dict[str, object]]
    timings_ms: dict[str, float]
    sha256: str
    thumbnail: bytes
    model_input: bytes
    hedge: dict[str, object] | None
    confidence: str
    cached: bool


def store_entry(outcome: Outcome, *, session_key: str) -> HistoryEntry:
    entry = HistoryEntry(
        session_key=session_key,
        model=outcome.model,
        weights=outcome.weights,
        weights_fingerprint=outcome.weights_fingerprint,
        top_k=outcome.top_k,
        predictions=outcome.predictions,
        timings_ms=outcome.timings_ms,
        sha256=outcome.sha256,
        cached=outcome.cached,
        hedge=outcome.hedge,
        confidence=outcome.confidence,
    )
    entry.thumbnail.save(f"{secrets.token_urlsafe(18)}.jpg", ContentFile(outcome.thumbnail), save=False)
    entry.model_input.save(f"{secrets.token_urlsafe(18)}.png", ContentFile(outcome.model_input), save=False)
    entry.save()
    return entry


def read_thumbnail(entry: HistoryEntry) -> bytes | None:
    """The entry's thumbnail, or None when its file was removed behind our back."""
    return _read_file(entry.thumbnail)


def read_model_input(entry: HistoryEntry) -> bytes | None:
    """The PNG the model saw, or None (an entry stored before model inputs were kept, or its file removed)."""
    return _read_file(entry.model_input) if entry.model_input else None


def _read_file(field: FieldFile) -> bytes | None:
    try:
        with field.open("rb") as file:
            return file.read()
    except (OSError, ValueError):
        return None


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
        if entry.model_input:
            entry.model_input.delete(save=False)
        entry.delete()
        count += 1
    return count


def purge_history(*, older_than_days: int) -> int:
    """Delete entries older than the given number of days, with their thumbnails. Returns how many."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    return delete_entries(HistoryEntry.objects.filter(created_at__lt=cutoff).iterator())
