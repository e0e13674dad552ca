"""One module per model family. Families that import Keras at module level are reached through
`lazy_callable`, so that importing the registry never imports TensorFlow."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from django.utils.module_loading import import_string


def lazy_callable(dotted_path: str) -> Callable[..., Any]:
    """A function that imports `dotted_path` on its first call and then forwards to it."""
    resolve = cache(lambda: import_string(dotted_path))

    def call(*args: Any, **kwargs: Any) -> Any:
        return resolve()(*args, **kwargs)

    call.__name__ = dotted_path.rsplit(".", 1)[-1]
    call.__qualname__ = dotted_path
    return call
