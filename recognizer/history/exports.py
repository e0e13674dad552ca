"""History as files: CSV (pandas, one row per prediction) and JSON (one object per entry)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable

import pandas as pd

from recognizer.history.models import HistoryEntry

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
