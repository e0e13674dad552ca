"""One module per model family. Families that import Keras at module level are reached through
`lazy_callable`, so that importing the registry never imports TensorFlow."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from typing import Any


def lazy_callable(dotted_path: str) -> Callable[..., Any]:
    """A function that imports `dotted_path` on its first call and then forwards to it."""
    module_path, _, attribute = dotted_path.rpartition(".")
    resolve = cache(lambda: getattr(importlib.import_module(module_path), attribute))

    def call(*args: Any, **kwargs: Any) -> Any:
        return resolve()(*args, **kwargs)

    call.__name__ = dotted_path.rsplit(".", 1)[-1]
    call.__qualname__ = dotted_path
    return call
