"""Custom models in the inference core: a user's head on a backbone the registry already holds.

The web side (or a worker) hands the registry a `CustomHeadSource`: it says which custom model a name is
(`find`, cheap, asked on every use) and reads its head (`load_head`, once per version). `CustomModels`
keeps one servable model per name and version in this process: the backbone's own Keras layers (loaded
once, by the registry) composed with the head's layers into one functional model, so Grad-CAM reaches the
backbone's feature maps and the head's pre-softmax logits alike; its own `CompiledModel` and batching
engine (its queue and worker thread), as any catalogue model has. A new version of a name (deleted and
uploaded again, or trained again) replaces the old one; a name that is gone stops its engine.

No Django here: the source is the only seam, and access rules live on the web side.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import weakref
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from recognizer.inference.compiled import CompiledModel
from recognizer.inference.errors import ModelNotReady, shown
from recognizer.inference.labels import LabelSpace

if TYPE_CHECKING:
    import keras

    from recognizer.inference.registry import LoadedModel, ModelRegistry

logger = logging.getLogger(__name__)

# Warm only batch size 1: a custom model is loaded on its first request, which pays for the warm-up.
CUSTOM_WARM_BUCKETS = (1,)


@dataclass(frozen=True)
class CustomHeadRef:
    """What a custom model's name stands for now: enough to tell whether a loaded one is still current."""

    name: str
    backbone: str
    classes: tuple[str, ...]
    state: str  # training | ready | failed
    version: str  # changes whenever its head does
    backbone_fingerprint: str  # the backbone's weights the head was trained on ("" : not recorded)


class CustomHeadSource(Protocol):
    def find(self, name: str) -> CustomHeadRef | None: ...

    def load_head(self, ref: CustomHeadRef) -> tuple[keras.Model, str]:
        """The head model and the SHA-256 of its stored bytes."""
        ...


def pooled_feature_tensor(model: keras.Model) -> keras.KerasTensor:
    """The backbone's pooled features: the input of its last Dense (ImageNet) layer."""
    import keras

    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if not dense:
        raise ValueError(f"Expected a classifier ending in a Dense layer. Received {model.name} without one")
    return dense[-1].input


def compose(backbone: keras.Model, head: keras.Model) -> keras.Model:
    """Backbone up to its pooled features, then a copy of each of the head's layers (Dropout, Dense: a
    chain) with the head's weights. Copies, not the head's own layers: a layer's `input` is its first call's,
    and Grad-CAM steps back from the composed model's own softmax Dense to its logits."""
    import keras

    output = pooled_feature_tensor(backbone)
    for layer in head.layers:
        if not isinstance(layer, keras.layers.InputLayer):
            copy = layer.__class__.from_config(layer.get_config())
            output = copy(output)
            copy.set_weights(layer.get_weights())
    return keras.Model(backbone.input, output, name=f"custom_{head.name}")


class CustomModels:
    """This process's custom models, loaded on first use and kept per (name, version)."""

    def __init__(self, registry: ModelRegistry, source: CustomHeadSource) -> None:
        self.registry = registry
        self.source = source
        self._lock = threading.Lock()
        self._loaded: dict[str, tuple[str, LoadedModel]] = {}

    def get(self, name: str) -> LoadedModel:
        ref = self.source.find(name)
        if ref is None:
            self._forget(name)
            raise self.registry.unknown_model(name)
        if ref.state != "ready":
            raise ModelNotReady(f"Custom model {shown(name)} is not ready: it is {ref.state}")
        if ref.backbone not in self.registry.names:
            raise ModelNotReady(
                f"Custom model {shown(name)} runs on {ref.backbone}, which this server does not enable "
                f"(IMGREC_MODELS: {', '.join(self.registry.names)})"
            )
        backbone = self.registry.get(ref.backbone)
        if ref.backbone_fingerprint and ref.backbone_fingerprint != backbone.fingerprint:
            raise ModelNotReady(
                f"Custom model {shown(name)} was trained on other {ref.backbone} weights than this server's "
                f"(fingerprint {ref.backbone_fingerprint[:16]}, here {backbone.fingerprint[:16]}); train it again here"
            )
        version = f"{ref.version}:{backbone.fingerprint}"
        with self._lock:
            current = self._loaded.get(name)
            if current is not None and current[0] == version:
                return current[1]
            loaded = self._build(ref, backbone)
            self._loaded[name] = (version, loaded)
        if current is not None:
            current[1].engine.stop()
        return loaded

    def loaded_names(self) -> list[str]:
        with self._lock:
            return list(self._loaded)

    def close(self) -> None:
        with self._lock:
            loaded, self._loaded = list(self._loaded.values()), {}
        for _, model in loaded:
            model.engine.stop()

    def _build(self, ref: CustomHeadRef, backbone: LoadedModel) -> LoadedModel:
        head, head_sha256 = self.source.load_head(ref)
        composed = compose(backbone.compiled.model, head)
        compiled = CompiledModel(composed, input_size=backbone.spec.input_size)
        compiled.warm_up(CUSTOM_WARM_BUCKETS)
        on_death = functools.partial(_custom_engine_died, weakref.ref(self), ref.name)
        logger.info("custom model %s loaded on %s (head %s)", ref.name, ref.backbone, head_sha256[:12])
        spec = replace(backbone.spec, name=ref.name, label=ref.name)
        return replace(
            backbone,
            spec=spec,
            compiled=compiled,
            engine=self.registry._start_engine(spec, compiled, on_death),
            fingerprint=hashlib.sha256(f"{backbone.fingerprint}:{head_sha256}".encode()).hexdigest()[:16],
            labels=LabelSpace(ref.classes),
        )

    def _forget(self, name: str) -> None:
        with self._lock:
            gone = self._loaded.pop(name, None)
        if gone is not None:
            gone[1].engine.stop()


def _custom_engine_died(models_ref: weakref.ref[CustomModels], name: str, error: BaseException) -> None:
    """A dead worker: forget the model, so its next use builds it (and a new worker) again."""
    models = models_ref()
    if models is not None:
        logger.warning("custom model %s: inference worker stopped (%s: %s)", name, type(error).__name__, error)
        models._forget(name)
