from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.core.cache import cache

from recognizer import serving
from recognizer.inference.catalog import SPECS_BY_NAME
from recognizer.inference.registry import ModelRegistry
from recognizer.ops.ratelimit import clear_local_counters
from tests.custom.fixtures import brick_gravel, brick_photo, gravel_photo, make_custom_model

__all__ = ["brick_gravel", "brick_photo", "gravel_photo", "make_custom_model"]  # fixtures for every test package


@pytest.fixture(autouse=True)
def media_root(settings: pytest.FixtureRequest, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def fresh_rate_limit_counters() -> None:
    """Each test starts with an empty cache, so one test's requests never count against another's."""
    cache.clear()
    clear_local_counters()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Web tests may touch the database (every classification is filed in the history); the inference
    core's tests run without it, and pytest-django fails any of them that tries."""
    tests_root = Path(__file__).parent
    for item in items:
        if "inference" not in item.path.relative_to(tests_root).parts and not item.get_closest_marker("django_db"):
            item.add_marker(pytest.mark.django_db)


@pytest.fixture(scope="session")
def registry() -> Iterator[ModelRegistry]:
    """The process registry (IMGREC_MODELS from pyproject, random Keras weights), each model loaded once per run,
    with its Grad-CAM traced as the serving preload does."""
    shared = serving.get_registry()
    shared.load_all(allow_download=False, prepare_explanations=True)
    yield shared
    shared.close()


THREE_MODELS = ("resnet50", "inception_v3", "densenet121")


@pytest.fixture(scope="session")
def three_models() -> Iterator[ModelRegistry]:
    """Three models with different inputs and preprocessing (224 caffe, 299 tf, 224 torch), random weights."""
    registry = ModelRegistry([SPECS_BY_NAME[name] for name in THREE_MODELS], weights_mode="random")
    registry.load_all(allow_download=False)
    yield registry
    registry.close()


ServeRegistry = Callable[[ModelRegistry], ModelRegistry]


@pytest.fixture
def serve_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[ServeRegistry]:
    """`serve_registry(r)`: every page, API view and command of this test uses `r`; `r` is closed after."""
    served: list[ModelRegistry] = []

    def install(registry: ModelRegistry) -> ModelRegistry:
        monkeypatch.setattr(serving, "get_registry", lambda: registry)
        served.append(registry)
        return registry

    yield install
    for registry in served:
        registry.close()


OfflineRegistry = Callable[[list[str]], ModelRegistry]


@pytest.fixture
def offline_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, serve_registry: ServeRegistry) -> OfflineRegistry:
    """`offline_registry(names)`: a served registry that asks for ImageNet weights with an empty Keras
    cache, so the Keras applications fail as they do without a network."""

    def install(names: list[str]) -> ModelRegistry:
        monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras-home"))
        return serve_registry(ModelRegistry([SPECS_BY_NAME[name] for name in names], weights_mode="imagenet"))

    return install
