from __future__ import annotations

from pathlib import Path

import pytest

from recognizer.registry import ModelRegistry, get_registry


@pytest.fixture(autouse=True)
def media_root(settings: pytest.FixtureRequest, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def database(db: None) -> None:
    """Every classification is stored in the history, so every test may touch the database."""


@pytest.fixture(scope="session")
def registry() -> ModelRegistry:
    """The process registry (ResNet50 and VGG19, random weights), each model loaded once per run."""
    shared = get_registry()
    shared.load_all(allow_download=False)
    return shared
