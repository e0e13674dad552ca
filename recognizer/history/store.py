"""Stored classifications: write one with its thumbnail and model input, list a session's, delete, purge.

The model input (a small PNG of what the model saw) is a column of the entry. Thumbnails are rows keyed
by the hash of their JPEG bytes, in the same database as the entries, so every app node serves every
picture and nothing lives in MEDIA_ROOT. Entries of identical pictures share one row; it is deleted with
the last entry that uses it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, QuerySet
from django.utils import timezone

from recognizer.history.models import HistoryEntry, Thumbnail

# Storing an entry can lose a race with the deletion of the last other entry of the same picture
# (the thumbnail row goes between our insert of it and our commit): then it is simply stored again.
STORE_ATTEMPTS = 3


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
    for _ in range(STORE_ATTEMPTS - 1):
        try:
            return _store_once(outcome, session_key=session_key)
        except IntegrityError:
            continue
    return _store_once(outcome, session_key=session_key)


@transaction.atomic
def _store_once(outcome: Outcome, *, session_key: str) -> HistoryEntry:
    digest = hashlib.sha256(outcome.thumbnail).hexdigest()
    Thumbnail.objects.bulk_create([Thumbnail(sha256=digest, jpeg=outcome.thumbnail)], ignore_conflicts=True)
    return HistoryEntry.objects.create(
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
        model_input=outcome.model_input,
        thumbnail_id=digest,
    )


def read_thumbnail(entry: HistoryEntry) -> bytes | None:
    """The entry's thumbnail JPEG, or None for an entry without one."""
    jpeg = Thumbnail.objects.filter(sha256=entry.thumbnail_id).values_list("jpeg", flat=True).first()
    return bytes(jpeg) if jpeg is not None else None  # PostgreSQL hands back a memoryview


def read_model_input(entry: HistoryEntry) -> bytes | None:
    """The PNG the model saw, or None for an entry stored before model inputs were kept."""
    return bytes(entry.model_input) or None  # PostgreSQL hands back a memoryview


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
    """Delete entries, and each thumbnail file no remaining entry uses."""
    count = 0
    for entry in entries:
        entry.delete()
        if entry.thumbnail_id is not None:
            delete_unused_thumbnail(entry.thumbnail_id)
        count += 1
    return count


def delete_unused_thumbnail(sha256: str) -> None:
    """Delete the thumbnail unless an entry still shows it (one stored meanwhile on any node)."""
    try:
        Thumbnail.objects.filter(sha256=sha256, entries__isnull=True).delete()
    except ProtectedError:
        pass  # an entry of the same picture was committed after the filter ran: it keeps the row


def purge_history(*, older_than_days: int) -> int:
    """Delete entries older than the given number of days, with their thumbnails. Returns how many."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    return delete_entries(HistoryEntry.objects.filter(created_at__lt=cutoff).iterator())
