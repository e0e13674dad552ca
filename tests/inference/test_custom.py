"""Custom models in the inference core, without Django: a source in memory, heads on the real backbone."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from recognizer.inference.custom import CustomHeadRef, CustomModels, compose
from recognizer.inference.errors import ModelNotFound, ModelNotReady
from recognizer.inference.labels import LabelSpace, top_k_predictions
from recognizer.inference.registry import ModelRegistry


class MemorySource:
    """Custom models by name, as the web side's rows would give them; counts the heads it loads."""

    def __init__(self) -> None:
        self.refs: dict[str, CustomHeadRef] = {}
        self.heads: dict[str, keras.Model] = {}
        self.loads = 0

    def add(self, name: str, classes: tuple[str, ...], *, version: str = "1", fingerprint: str = "") -> None:
        self.refs[name] = CustomHeadRef(name, "efficientnet_lite0", classes, "ready", version, fingerprint)
        inputs = keras.Input((1280,))
        self.heads[name] = keras.Model(inputs, keras.layers.Dense(len(classes), activation="softmax")(inputs))

    def find(self, name: str) -> CustomHeadRef | None:
        return self.refs.get(name)

    def load_head(self, ref: CustomHeadRef) -> tuple[keras.Model, str]:
        self.loads += 1
        return self.heads[ref.name], f"sha-{ref.version}"


@pytest.fixture
def custom(registry: ModelRegistry) -> tuple[CustomModels, MemorySource]:
    source = MemorySource()
    models = CustomModels(registry, source)
    yield models, source
    models.close()


def test_a_label_space_names_its_own_classes_and_top_k_stops_at_their_number() -> None:
    labels = LabelSpace(("ripe", "unripe", "rotten"))
    predictions = top_k_predictions(np.array([0.2, 0.7, 0.1], dtype=np.float32), 5, labels)
    assert [(p.label, p.class_id, p.index) for p in predictions] == [
        ("unripe", "unripe", 1),
        ("ripe", "ripe", 0),
        ("rotten", "rotten", 2),
    ]
    with pytest.raises(ValueError, match="Expected 3 class scores"):
        top_k_predictions(np.zeros(1000, dtype=np.float32), 5, labels)
    assert len(LabelSpace()) == 1000 and LabelSpace().is_imagenet


def test_the_composed_model_is_the_backbone_features_into_the_head(registry: ModelRegistry) -> None:
    backbone = registry.get("efficientnet_lite0").compiled.model
    inputs = keras.Input((1280,))
    dropped = keras.layers.Dropout(0.5)(inputs)
    head = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(dropped))
    composed = compose(backbone, head)
    assert composed.layers[-1].activation is keras.activations.softmax  # Grad-CAM reaches the logits
    batch = np.random.default_rng(0).uniform(-1, 1, size=(2, 224, 224, 3)).astype(np.float32)
    dense = [layer for layer in backbone.layers if isinstance(layer, keras.layers.Dense)][-1]
    features = keras.Model(backbone.input, dense.input)(batch, training=False)
    np.testing.assert_allclose(composed(batch, training=False), head(features, training=False), rtol=1e-4, atol=1e-6)


def test_each_version_is_loaded_once_and_a_name_that_is_gone_is_unknown(
    custom: tuple[CustomModels, MemorySource],
) -> None:
    models, source = custom
    source.add("fruit", ("ripe", "unripe"))
    first = models.get("fruit")
    assert models.get("fruit") is first and source.loads == 1
    assert first.labels == LabelSpace(("ripe", "unripe")) and first.spec.name == "fruit"
    scores = first.predict(np.zeros((224, 224, 3), dtype=np.float32)).scores
    assert scores.shape == (2,) and float(scores.sum()) == pytest.approx(1.0, abs=1e-5)
    source.add("fruit", ("ripe", "unripe", "rotten"), version="2")
    second = models.get("fruit")
    assert second is not first and len(second.labels) == 3 and source.loads == 2
    del source.refs["fruit"]
    with pytest.raises(ModelNotFound, match="Unknown model"):
        models.get("fruit")
    assert models.loaded_names() == []


def test_a_head_of_other_backbone_weights_or_still_training_is_not_served(
    custom: tuple[CustomModels, MemorySource],
) -> None:
    models, source = custom
    source.add("elsewhere", ("a", "b"), fingerprint="not-these-weights")
    with pytest.raises(ModelNotReady, match="other efficientnet_lite0 weights"):
        models.get("elsewhere")
    source.refs["growing"] = CustomHeadRef("growing", "efficientnet_lite0", ("a", "b"), "training", "1", "")
    with pytest.raises(ModelNotReady, match="training"):
        models.get("growing")
    source.refs["on-vgg16"] = CustomHeadRef("on-vgg16", "vgg16", ("a", "b"), "ready", "1", "")
    with pytest.raises(ModelNotReady, match="does not enable"):
        models.get("on-vgg16")
    assert source.loads == 0
