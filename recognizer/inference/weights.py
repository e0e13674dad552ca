"""Where a model's ImageNet weights come from: IMGREC_WEIGHTS_DIR, the Keras cache, or a download.

Downloads happen only in `fetch_weights` or in the background preload, never during a request. They
use a timeout on their own connection: a process-wide `socket.setdefaulttimeout` would change every
other thread's sockets too.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from recognizer.inference.catalog import ModelSpec

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
    """Download into the Keras cache, checking Keras' published hash; the file appears whole or not at all."""
    if spec.weights_file is None or spec.weights_url is None:
        raise WeightsUnavailable(f"{spec.name} has no downloadable weights")
    destination = keras_cache_dir() / spec.weights_file
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        _download(spec.weights_url, destination, expected_hash=spec.weights_hash)
    except OSError as error:  # URLError, timeouts and refused connections are all OSErrors
        raise WeightsUnavailable(
            f"weights not available offline: downloading {spec.weights_file} failed "
            f"({getattr(error, 'reason', error)}). {offline_advice(spec)}"
        ) from error
    return destination


def _download(url: str, destination: Path, *, expected_hash: str | None) -> None:
    # Keras publishes MD5 (32 hex digits) or SHA-256 hashes for its application weights.
    digest = hashlib.md5(usedforsecurity=False) if expected_hash and len(expected_hash) == 32 else hashlib.sha256()
    handle, partial = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".part")
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, os.fdopen(handle, "wb") as file:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                file.write(chunk)
        if expected_hash and digest.hexdigest() != expected_hash:
            raise OSError(f"the file's hash {digest.hexdigest()} is not the published {expected_hash}")
        shutil.move(partial, destination)
    finally:
        Path(partial).unlink(missing_ok=True)


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
