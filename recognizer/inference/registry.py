"""The state of each enabled model in this process: load once, serve, restart when its worker dies.

`ModelRegistry` loads each model at most once per process, under a per-model lock, warms it, and
keeps a state per model (pending -> loading -> ready | failed, with a human reason). One model
failing never touches the others. When a ready model's engine worker dies, the model is `failed`
with the reason until a new worker is started for it (after a short back-off), and `restarts` counts it.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import logging
import secrets
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from recognizer.inference.batching import Admission, BatchingEngine, EngineConfig, InferenceResult
from recognizer.inference.catalog import SPECS_BY_NAME, ModelSpec
from recognizer.inference.compiled import CompiledModel
from recognizer.inference.config import InferenceConfig
from recognizer.inference.errors import ModelNotFound, ModelNotReady, NotExplainable, shown
from recognizer.inference.labels import IMAGENET, LabelSpace
from recognizer.inference.precision import EXPECTED, compile_model
from recognizer.inference.weights import WeightsUnavailable, find_weights, offline_reason, resolve_weights

if TYPE_CHECKING:
    from recognizer.inference.custom import CustomModels

logger = logging.getLogger(__name__)

MAX_RESTART_DELAY_S = 30.0


class ModelState(enum.StrEnum):
    PENDING = "pending"
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


# Why a model failed, in a few words: the form, the home page's list and the compare page show this;
# the full reason (with the advice) is for the About page, the API and the logs.
NO_WEIGHTS_OFFLINE = "no weights offline"
FAILED_TO_LOAD = "failed to load"
WORKER_RESTARTING = "worker restarting"


@dataclass(frozen=True)
class ModelStatus:
    name: str
    label: str
    input_size: int
    state: ModelState
    reason: str
    weights: str
    restarts: int = 0
    cause: str = ""  # why it failed, in a few words (NO_WEIGHTS_OFFLINE, ...)
    precision: str = "fp32"  # what its forward pass computes in: fp32 or int8 (IMGREC_PRECISION=fast)
    runtime: str = "keras"  # what runs it: keras, or onnxruntime (IMGREC_PRECISION=fast)

    @property
    def usable(self) -> bool:
        """Ready now, or loads on first use (no background preload in this process)."""
        return self.state in (ModelState.READY, ModelState.PENDING)

    @property
    def summary(self) -> str:
        """The state in a few words, short enough for a dropdown at 375 px: `unavailable: no weights offline`."""
        if self.state == ModelState.PENDING:
            return "loads on first use"
        if self.state == ModelState.LOADING:
            return "loading…"
        if self.state == ModelState.FAILED:
            return f"unavailable: {self.cause or FAILED_TO_LOAD}"
        return str(self.state)

    def as_dict(self) -> dict[str, str | int]:
        return {
            "name": self.name,
            "label": self.label,
            "input_size": self.input_size,
            "state": str(self.state),
            "reason": self.reason,
            "summary": self.summary,
            "weights": self.weights,
            "kind": "imagenet",
            "restarts": self.restarts,
            "precision": self.precision,
            "runtime": self.runtime,
        }


@dataclass(frozen=True)
class LoadedModel:
    """A ready model: `predict` one image, with batching hidden behind it (as MLServer's models do)."""

    spec: ModelSpec
    compiled: CompiledModel
    engine: BatchingEngine
    fingerprint: str  # names these exact weights: cached answers of other weights never match
    labels: LabelSpace = IMAGENET  # a custom model: its own classes

    def preprocess(self, pixels: np.ndarray) -> np.ndarray:
        return self.spec.preprocess(pixels)

    @contextmanager
    def admit(self) -> Iterator[Admission]:
        with self.engine.admit() as admission:
            yield admission

    def predict(self, pixels: np.ndarray) -> InferenceResult:
        return self.engine.submit(self.preprocess(pixels))

    def explain(self, pixels: np.ndarray, class_index: int | None = None) -> tuple[int, np.ndarray]:
        """Grad-CAM of one model input (size x size x 3, 0..255) through this model's compiled forward:
        the class explained (None: the top-1) and its heatmap grid (0..1, rows top to bottom)."""
        try:
            return self.compiled.explain(self.preprocess(pixels), class_index)
        except ValueError as error:  # gradcam.last_conv_layer: nothing convolutional to explain
            raise NotExplainable(
                f"Expected a model with a convolutional feature map to explain. Received {self.spec.name}: {error}"
            ) from None


class _Slot:
    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.lock = threading.Lock()
        self.state = ModelState.PENDING
        self.reason = ""
        self.cause = ""
        self.loaded: LoadedModel | None = None
        self.restarts = 0


class ModelRegistry:
    def __init__(
        self,
        specs: Sequence[ModelSpec],
        *,
        weights_mode: str,
        weights_dir: str = "",
        cache_dir: Path = InferenceConfig.cache_dir,
        engine_config: EngineConfig | None = None,
        precision: str = "fp32",
    ) -> None:
        self.weights_mode = weights_mode
        self.precision = precision
        self.weights_dir = weights_dir
        self.cache_dir = cache_dir
        self.engine_config = engine_config or EngineConfig()
        self._slots = {spec.name: _Slot(spec) for spec in specs}
        self._closed = False
        self.custom: CustomModels | None = None  # set by the web side or a worker to serve custom models
        for slot in self._slots.values():
            if self._weights_missing(slot.spec):
                self._fail(slot, offline_reason(slot.spec), cause=NO_WEIGHTS_OFFLINE)

    @classmethod
    def from_config(cls, config: InferenceConfig) -> ModelRegistry:
        return cls(
            [SPECS_BY_NAME[name] for name in config.models if name in SPECS_BY_NAME],
            weights_mode=config.weights_mode,
            weights_dir=config.weights_dir,
            cache_dir=config.cache_dir,
            engine_config=config.engine,
            precision=config.precision,
        )

    @property
    def names(self) -> list[str]:
        return list(self._slots)

    def spec(self, name: str) -> ModelSpec:
        if name not in self._slots and self.custom is not None:
            return self.custom.get(name).spec
        return self._slot(name).spec

    def status(self, name: str) -> ModelStatus:
        slot = self._slot(name)
        compiled = slot.loaded.compiled if slot.loaded is not None else None
        precision, runtime = (compiled.precision, compiled.runtime) if compiled else EXPECTED[self.precision]
        return ModelStatus(
            name=name,
            label=slot.spec.label,
            input_size=slot.spec.input_size,
            state=slot.state,
            reason=slot.reason,
            weights=self.weights_kind(slot.spec),
            restarts=slot.restarts,
            cause=slot.cause,
            precision=precision,
            runtime=runtime,
        )

    def statuses(self) -> list[ModelStatus]:
        return [self.status(name) for name in self._slots]

    def queue_depth(self, name: str) -> int:
        """Requests waiting in the model's queue; 0 for a model that is not loaded."""
        loaded = self._slot(name).loaded
        return loaded.engine.queued if loaded is not None else 0

    def weights_kind(self, spec: ModelSpec) -> str:
        """'imagenet' (real, from Keras), 'bundled' (real, shipped in a package) or 'random'."""
        if spec.bundled_weights is not None:
            return "bundled"
        return self.weights_mode

    def default_model_name(self) -> str | None:
        """ResNet50 when it can be used, else the first model that can."""
        usable = [status.name for status in self.statuses() if status.usable]
        if "resnet50" in usable:
            return "resnet50"
        return usable[0] if usable else None

    def get(self, name: str) -> LoadedModel:
        """The ready model; a pending one is loaded now (from disk only, never downloaded). A name that is
        not in the catalogue is looked up among the custom models, when this registry serves them."""
        if name not in self._slots and self.custom is not None:
            return self.custom.get(name)
        slot = self._slot(name)
        if slot.state == ModelState.PENDING:
            self.load(name)
        if slot.state == ModelState.READY and slot.loaded is not None:
            return slot.loaded
        if slot.state == ModelState.LOADING:
            raise ModelNotReady(f"Model {name!r} is still loading; try again in a few seconds")
        raise ModelNotReady(f"Model {name!r} is not available: {slot.reason}")

    def load(self, name: str, *, allow_download: bool = False) -> ModelState:
        """Load once per process. Concurrent callers wait for the first one's result.

        A model failed only for want of weights is tried again when downloading is allowed.
        """
        slot = self._slot(name)
        with slot.lock:
            retry = allow_download and slot.state == ModelState.FAILED and self._weights_missing(slot.spec)
            if slot.state == ModelState.READY or (slot.state == ModelState.FAILED and not retry):
                return slot.state
            slot.state = ModelState.LOADING
            try:
                slot.loaded = self._build(slot.spec, allow_download=allow_download)
            except WeightsUnavailable as error:
                self._fail(slot, str(error), cause=NO_WEIGHTS_OFFLINE)
            except Exception as error:  # any failure of one model must leave the others serving
                logger.exception("model %s failed to load", name)
                self._fail(slot, f"failed to load: {type(error).__name__}: {error}", cause=FAILED_TO_LOAD)
            else:
                slot.state = ModelState.READY
                slot.reason = ""
                logger.info("model %s ready (%s weights)", name, self.weights_kind(slot.spec))
            return slot.state

    def load_all(self, *, allow_download: bool, prepare_explanations: bool = False) -> None:
        """Load every model, the largest first; with `prepare_explanations`, then trace each ready model's
        Grad-CAM too (the first heatmap of a model otherwise waits seconds for it).

        The largest first: where TensorFlow uses oneDNN (CPUs with AVX-512 VNNI or BF16), its allocator keeps
        what a model's warm-up freed (VGG19's batch-16 activations) for later tensors instead of giving it
        back; loaded after VGG19, the smaller models' weights and activations are carved out of that instead
        of growing the process (docs/architecture.md, "Memory")."""
        for name in sorted(self._slots, key=lambda name: -self._slots[name].spec.params):
            self.load(name, allow_download=allow_download)
        if prepare_explanations:
            for slot in self._slots.values():
                if slot.state == ModelState.READY and slot.loaded is not None:
                    _prepare_explain(slot.loaded)

    def preload_in_background(self) -> threading.Thread:
        """Start loading every model (downloading missing weights if there is a network)."""
        thread = threading.Thread(
            target=self.load_all,
            kwargs={"allow_download": True, "prepare_explanations": True},
            name="imgrec-preload",
            daemon=True,
        )
        for slot in self._slots.values():
            if slot.state == ModelState.PENDING or self._weights_missing(slot.spec):
                slot.state = ModelState.LOADING
                slot.reason = "loading…"
        thread.start()
        return thread

    def _build(self, spec: ModelSpec, *, allow_download: bool) -> LoadedModel:
        weights_path = resolve_weights(
            spec, mode=self.weights_mode, weights_dir=self.weights_dir, allow_download=allow_download
        )
        fingerprint = weights_fingerprint(weights_path)
        compiled = compile_model(
            spec.build(weights_path, cache_dir=self.cache_dir),
            spec=spec,
            precision=self.precision,
            fingerprint=fingerprint,
            cache_dir=self.cache_dir,
        )
        compiled.warm_up(self.engine_config_for(spec).buckets)
        return LoadedModel(
            spec=spec, compiled=compiled, engine=self._start_engine(spec, compiled), fingerprint=fingerprint
        )

    def engine_config_for(self, spec: ModelSpec) -> EngineConfig:
        """The engine's settings, with the model's own batch cap where it has a smaller one."""
        if spec.max_batch is None or spec.max_batch >= self.engine_config.max_batch:
            return self.engine_config
        return replace(self.engine_config, max_batch=spec.max_batch)

    def _start_engine(
        self, spec: ModelSpec, compiled: CompiledModel, on_death: Callable[[BaseException], None] | None = None
    ) -> BatchingEngine:
        # The engine's thread reaches the registry only through a weak reference, so a registry that
        # is dropped without close() still lets its engines (and their threads) go.
        on_death = on_death or functools.partial(_engine_died, weakref.ref(self), spec.name)
        engine = BatchingEngine(compiled, config=self.engine_config_for(spec), name=spec.name, on_death=on_death)
        engine.start()
        return engine

    def _restart(self, name: str, reason: str) -> None:
        """Mark a model whose worker died as failed, then start a new worker for it after a back-off."""
        slot = self._slot(name)
        with slot.lock:
            if self._closed or slot.loaded is None:
                return
            slot.restarts += 1
            self._fail(slot, f"its inference worker stopped ({reason}); restarting", cause=WORKER_RESTARTING)
            delay_s = min(0.05 * 2**slot.restarts, MAX_RESTART_DELAY_S)
        timer = threading.Timer(delay_s, self._start_again, args=(name,))
        timer.daemon = True
        timer.start()

    def _start_again(self, name: str) -> None:
        slot = self._slot(name)
        with slot.lock:
            if self._closed or slot.loaded is None:
                return
            slot.loaded = replace(slot.loaded, engine=self._start_engine(slot.loaded.spec, slot.loaded.compiled))
            slot.state = ModelState.READY
            slot.reason = ""
            logger.warning("model %s: inference worker restarted (%d restarts)", name, slot.restarts)

    def close(self) -> None:
        """Stop every model's worker thread (tests and orderly shutdown; daemon threads otherwise)."""
        self._closed = True
        if self.custom is not None:
            self.custom.close()
        for slot in self._slots.values():
            if slot.loaded is not None:
                slot.loaded.engine.stop()

    def _weights_missing(self, spec: ModelSpec) -> bool:
        """ImageNet weights that are neither in IMGREC_WEIGHTS_DIR nor in the Keras cache (a stat, no I/O)."""
        if self.weights_mode != "imagenet" or spec.bundled_weights is not None:
            return False
        return find_weights(spec, weights_dir=self.weights_dir) is None

    def _fail(self, slot: _Slot, reason: str, *, cause: str) -> None:
        slot.state = ModelState.FAILED
        slot.reason = reason
        slot.cause = cause
        logger.warning("model %s unavailable: %s", slot.spec.name, reason)

    def _slot(self, name: str) -> _Slot:
        try:
            return self._slots[name]
        except KeyError:
            raise self.unknown_model(name) from None

    def unknown_model(self, name: str) -> ModelNotFound:
        """The one answer for a name this server does not serve (to this client): an unknown name and
        someone else's private custom model read the same, so the answer tells nothing about the other."""
        custom = " or the name of a custom model of yours" if self.custom is not None else ""
        names = ", ".join(self._slots)
        return ModelNotFound(f"Unknown model. Expected one of {names}{custom}. Received: {shown(name)}")


def _prepare_explain(model: LoadedModel) -> None:
    try:
        model.compiled.prepare_explain()
    except ValueError as error:  # nothing convolutional: its explanations are refused when asked for
        logger.info("model %s cannot be explained: %s", model.spec.name, error)


def _engine_died(registry_ref: weakref.ref[ModelRegistry], name: str, error: BaseException) -> None:
    registry = registry_ref()
    if registry is not None:
        registry._restart(name, f"{type(error).__name__}: {error}")


def weights_fingerprint(weights_path: Path | None) -> str:
    """Names the weights a model was built with: a file by name, size and modification time; random
    weights by a fresh token, since every load draws new ones."""
    if weights_path is None:
        return "random-" + secrets.token_hex(8)
    stat = Path(weights_path).stat()
    identity = f"{Path(weights_path).name}:{stat.st_size}:{stat.st_mtime_ns}"
    return hashlib.sha256(identity.encode()).hexdigest()[:16]
