from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from recognizer.inference.registry import ModelRegistry

MakeRegistry = Callable[..., ModelRegistry]


@pytest.fixture
def make_registry() -> Iterator[MakeRegistry]:
    """`make_registry(specs, **options)`: a ModelRegistry that is closed (its workers stopped) after the test."""
    made: list[ModelRegistry] = []

    def make(*args: Any, **kwargs: Any) -> ModelRegistry:
        made.append(ModelRegistry(*args, **kwargs))
        return made[-1]

    yield make
    for registry in made:
        registry.close()
