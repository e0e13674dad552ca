"""The web side's one way to the inference core: the process's registry and pipeline, from settings.

Every view, command and check reaches the registry through `get_registry()` here (called as
`serving.get_registry()`), so a test replaces it in exactly one place.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cache, wraps
from typing import TypeVar

from django.conf import settings

from recognizer.custom.loader import serve_custom_models
from recognizer.inference.batching import EngineConfig
from recognizer.inference.budget import DecodeBudget
from recognizer.inference.config import InferenceConfig
from recognizer.inference.pipeline import Pipeline
from recognizer.inference.registry import ModelRegistry


def inference_config() -> InferenceConfig:
    return InferenceConfig(
        models=tuple(settings.IMGREC_MODELS),
        weights_mode=settings.IMGREC_WEIGHTS,
        weights_dir=settings.IMGREC_WEIGHTS_DIR,
        cache_dir=settings.IMGREC_CACHE_DIR,
        max_pixels=settings.IMGREC_MAX_PIXELS,
        decode_budget_pixels=settings.IMGREC_DECODE_BUDGET_PIXELS,
        precision=settings.IMGREC_PRECISION,
        engine=EngineConfig(
            max_batch=settings.IMGREC_MAX_BATCH,
            batch_wait_s=settings.IMGREC_BATCH_WAIT_MS / 1000.0,
            queue_max=settings.IMGREC_QUEUE_MAX,
            timeout_s=settings.IMGREC_TIMEOUT_S,
        ),
    )


T = TypeVar("T")


def once_per_process(factory: Callable[[], T]) -> Callable[[], T]:
    """`factory()` made once however many threads ask for it at the same moment (`functools.cache` alone lets
    two first callers both make one: two registries would each load every model)."""
    cached = cache(factory)
    lock = threading.RLock()

    @wraps(factory)
    def get() -> T:
        with lock:
            return cached()

    return get


@once_per_process
def _process_registry() -> ModelRegistry:
    return serve_custom_models(ModelRegistry.from_config(inference_config()))


def get_registry() -> ModelRegistry:
    """This process's registry. Cheap: nothing is loaded until asked."""
    return _process_registry()


@once_per_process
def _process_decode_budget() -> DecodeBudget:
    return DecodeBudget(inference_config().decode_budget_pixels)


def get_decode_budget() -> DecodeBudget:
    """This process's budget of decoded pixels in flight, shared by every request thread."""
    return _process_decode_budget()


def get_pipeline() -> Pipeline:
    return Pipeline(get_registry(), max_pixels=settings.IMGREC_MAX_PIXELS, decode_budget=get_decode_budget())
