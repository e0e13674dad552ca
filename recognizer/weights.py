"""Where a model's ImageNet weights come from: IMGREC_WEIGHTS_DIR, the Keras cache, or a download.

Downloads happen only in `fetch_weights` or in the background preload, never during a request.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from recognizer.registry import ModelSpec

DOWNLOAD_TIMEOUT_S = 20


class WeightsUnavailable(Exception):
    """The weights file is not on this machine and could not be downloaded."""


def keras_cache_dir() -> Path:
    """The folder Keras' `get_file(..., cache_subdir="models")` reads and writes."""
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(keras_home) / "models"


def find_weights(spec: ModelSpec, *, weights_dir: str) -> Path | None:
    """The weights file under Keras' own name in IMGREC_WEIGHTS_DIR, else in the Keras cache."""
    if spec.weights_file is None:
        return None
    folders = ([Path(weights_dir)] if weights_dir else []) + [keras_cache_dir()]
    for folder in folders:
        candidate = folder / spec.weights_file
        if candidate.is_file():
            return candidate
    return None


def download_weights(spec: ModelSpec) -> Path:
    """Download into the Keras cache with Keras' progress bar, checking Keras' published hash."""
    if spec.weights_file is None or spec.weights_url is None:
        raise WeightsUnavailable(f"{spec.name} has no downloadable weights")
    from keras.utils import get_file

    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        path = get_file(spec.weights_file, spec.weights_url, cache_subdir="models", file_hash=spec.weights_hash)
    except Exception as error:  # Keras wraps every network failure in a bare Exception.
        cause = error.__context__ or error
        raise WeightsUnavailable(
            f"weights not available offline: downloading {spec.weights_file} failed "
            f"({getattr(cause, 'reason', cause)}). {offline_advice(spec)}"
        ) from error
    finally:
        socket.setdefaulttimeout(previous_timeout)
    return Path(path)


def offline_advice(spec: ModelSpec) -> str:
    return (
        f"Run `python manage.py fetch_weights {spec.name}` on a connected machine, "
        f"or put {spec.weights_file} in IMGREC_WEIGHTS_DIR"
    )


def resolve_weights(spec: ModelSpec, *, mode: str, weights_dir: str, allow_download: bool) -> Path | None:
    """The file to load, or None for random initialisation (IMGREC_WEIGHTS=random)."""
    if spec.bundled_weights is not None:
        return spec.bundled_weights()
    if mode == "random":
        return None
    found = find_weights(spec, weights_dir=weights_dir)
    if found is not None:
        return found
    if allow_download:
        return download_weights(spec)
    raise WeightsUnavailable(offline_reason(spec))


def offline_reason(spec: ModelSpec) -> str:
    return f"weights not available offline: {offline_advice(spec)}"
