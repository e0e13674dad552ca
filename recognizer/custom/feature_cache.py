"""The feature cache of training.py kept in the database (FeatureVector rows), so every worker shares it:
a photo in several trainings on the same backbone weights goes through the backbone once."""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping

import numpy as np

from recognizer.custom.models import FeatureVector


class DatabaseFeatureCache(MutableMapping[str, np.ndarray]):
    """`key -> (copies, features)` float32 arrays. `on_read` is called with each key read: training reads
    each photo's features once, so it counts the photos done while the features are computed."""

    def __init__(self, on_read: Callable[[str], None] | None = None) -> None:
        self.on_read = on_read

    def __getitem__(self, key: str) -> np.ndarray:
        row = FeatureVector.objects.filter(key=key).only("shape", "vectors").first()
        if row is None:
            raise KeyError(key)
        if self.on_read is not None:
            self.on_read(key)
        return np.frombuffer(bytes(row.vectors), dtype=np.float32).reshape(row.shape)

    def __setitem__(self, key: str, value: np.ndarray) -> None:
        vectors = np.ascontiguousarray(value, dtype=np.float32)
        # Two workers may compute the same photo at once: the first row written stays, both are equal.
        FeatureVector.objects.bulk_create(
            [FeatureVector(key=key, shape=list(vectors.shape), vectors=vectors.tobytes())], ignore_conflicts=True
        )

    def __delitem__(self, key: str) -> None:
        deleted, _ = FeatureVector.objects.filter(key=key).delete()
        if not deleted:
            raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and FeatureVector.objects.filter(key=key).exists()

    def __iter__(self) -> Iterator[str]:
        return iter(FeatureVector.objects.values_list("key", flat=True))

    def __len__(self) -> int:
        return FeatureVector.objects.count()
