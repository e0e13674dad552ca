from __future__ import annotations

from pathlib import Path

import pytest
from django.core.cache import cache

from recognizer.registry import ModelRegistry, get_registry


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
