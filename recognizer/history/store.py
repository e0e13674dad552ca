"""Stored classifications: write one with its thumbnail file, list a session's, delete, purge.

A thumbnail file is named by the SHA-256 of its bytes, so one image has one file however many
entries (requests, sessions) show it; a file is deleted with the last entry that uses it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.core.files.base import ContentFile
from django.db.models import QuerySet
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
    )
    name = thumbnail_name(outcome.thumbnail)
    storage = entry.thumbnail.storage
    if storage.exists(name):
        entry.thumbnail.name = name
    else:
        # Two first uploads at once may both write: the storage gives the second file another name.
        entry.thumbnail.save(name.removeprefix(THUMBNAIL_DIR), ContentFile(outcome.thumbnail), save=False)
    entry.save()
    return entry


THUMBNAIL_DIR = "thumbnails/"


def thumbnail_name(thumbnail: bytes) -> str:
    """Where a thumbnail is stored: content-addressed, so identical images share one file."""
    return f"{THUMBNAIL_DIR}{hashlib.sha256(thumbnail).hexdigest()}.jpg"


def read_thumbnail(entry: HistoryEntry) -> bytes | None:
    """The entry's thumbnail, or None when its file was removed behind our back."""
    try:
        with entry.thumbnail.open("rb") as file:
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
    """Delete entries, and each thumbnail file no remaining entry uses."""
    count = 0
    for entry in entries:
        name, storage = entry.thumbnail.name, entry.thumbnail.storage
        entry.delete()
        if name and not HistoryEntry.objects.filter(thumbnail=name).exists():
            storage.delete(name)
        count += 1
    return count


def purge_history(*, older_than_days: int) -> int:
    """Delete entries older than the given number of days, with their thumbnails. Returns how many."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    return delete_entries(HistoryEntry.objects.filter(created_at__lt=cutoff).iterator())
