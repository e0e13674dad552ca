from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.core.cache import cache

from recognizer.registry import SPECS_BY_NAME, ModelRegistry, get_registry


@pytest.fixture(autouse=True)
def media_root(settings: pytest.FixtureRequest, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def fresh_rate_limit_counters() -> None:
    """Each test starts with an empty cache, so one test's requests never count against another's."""
    cache.clear()


@pytest.fixture(autouse=True)
def database(db: None) -> None:
    """Every classification is stored in the history, so every test may touch the database."""


@pytest.fixture(scope="session")
def registry() -> ModelRegistry:
    """The process registry (IMGREC_MODELS from pyproject, random Keras weights), each model loaded once per run."""
    shared = get_registry()
    shared.load_all(allow_download=False)
    return shared


OfflineRegistry = Callable[..., ModelRegistry]


@pytest.fixture
def offline_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[OfflineRegistry]:
    """`offline_registry(names, serving=modules)`: a registry that asks for ImageNet weights with an empty
    Keras cache (so the Keras applications fail as without a network), installed as `get_registry` in
    each of `modules`. Closed after the test."""
    made: list[ModelRegistry] = []

    def install(names: list[str], *, serving: tuple[str, ...]) -> ModelRegistry:
        monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras-home"))
        offline = ModelRegistry([SPECS_BY_NAME[name] for name in names], weights_mode="imagenet")
        made.append(offline)
        for module in serving:
            monkeypatch.setattr(f"{module}.get_registry", lambda: offline)
        return offline

    yield install
    for offline in made:
        offline.close()
