"""The database-backed feature cache: arrays in and out as they were, shared through rows."""

from __future__ import annotations

import numpy as np
import pytest

from recognizer.custom.feature_cache import DatabaseFeatureCache


def test_features_come_back_as_stored_and_each_read_is_reported() -> None:
    reads: list[str] = []
    cache = DatabaseFeatureCache(on_read=reads.append)
    vectors = np.arange(24, dtype=np.float32).reshape(2, 12) / 7
    assert "fp:abc" not in cache
    cache["fp:abc"] = vectors
    cache["fp:abc"] = vectors + 1  # a second worker's equal write is ignored, not an error
    assert "fp:abc" in cache and len(cache) == 1 and list(cache) == ["fp:abc"]
    np.testing.assert_array_equal(DatabaseFeatureCache()["fp:abc"], vectors)
    np.testing.assert_array_equal(cache["fp:abc"], vectors)
    assert reads == ["fp:abc"]
    del cache["fp:abc"]
    with pytest.raises(KeyError):
        cache["fp:abc"]
