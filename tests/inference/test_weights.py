from __future__ import annotations

from pathlib import Path

import pytest

from recognizer.inference.catalog import SPECS_BY_NAME
from recognizer.inference.weights import WeightsUnavailable, find_weights, keras_cache_dir, resolve_weights

RESNET50 = SPECS_BY_NAME["resnet50"]


def test_weights_dir_is_searched_under_keras_own_file_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras-home"))
    (tmp_path / RESNET50.weights_file).write_bytes(b"weights")
    assert find_weights(RESNET50, weights_dir=str(tmp_path)) == tmp_path / RESNET50.weights_file


def test_keras_cache_is_searched_when_the_weights_dir_has_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert keras_cache_dir() == tmp_path / "models"
    keras_cache_dir().mkdir()
    (keras_cache_dir() / RESNET50.weights_file).write_bytes(b"weights")
    assert find_weights(RESNET50, weights_dir="") == keras_cache_dir() / RESNET50.weights_file


def test_random_mode_needs_no_file() -> None:
    assert resolve_weights(RESNET50, mode="random", weights_dir="", allow_download=False) is None


def test_imagenet_mode_without_a_file_never_downloads_unless_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(WeightsUnavailable, match="weights not available offline"):
        resolve_weights(RESNET50, mode="imagenet", weights_dir="", allow_download=False)
