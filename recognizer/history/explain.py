"""Explanations of stored results: Grad-CAM from an entry's model input, drawn over its thumbnail.

No upload is needed, so a permalink can explain any class of any past result, as long as the entry kept
what its model saw (entries stored before model inputs were kept cannot be explained).
"""

from __future__ import annotations

from recognizer.history.models import HistoryEntry
from recognizer.history.store import read_model_input, read_thumbnail
from recognizer.inference.errors import InvalidInput
from recognizer.inference.pipeline import Explanation, Pipeline


class NothingToExplain(InvalidInput):
    status = 404


def explain_entry(*, pipeline: Pipeline, entry: HistoryEntry, class_index: int | None = None) -> Explanation:
    """Where the entry's model looked for `class_index` (None: the top-1 class)."""
    model_input = read_model_input(entry)
    thumbnail = read_thumbnail(entry)
    if model_input is None or thumbnail is None:
        raise NothingToExplain(
            "Expected a result that kept its model input and photo. Received one stored without them "
            "(older than explanations, or its files were removed)"
        )
    return pipeline.explain(model_name=entry.model, model_input=model_input, photo=thumbnail, class_index=class_index)
