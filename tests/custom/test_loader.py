"""The rows as the registry's source: a custom model served on its backbone, in its own label space,
loaded once per version, gone when deleted, replaced when uploaded again."""

from __future__ import annotations

import pytest

from recognizer.custom.models import CustomModel
from recognizer.inference.errors import ModelNotFound, ModelNotReady
from recognizer.inference.pipeline import Pipeline
from recognizer.inference.registry import ModelRegistry
from tests.custom.fixtures import MakeCustomModel


@pytest.fixture
def pipeline(registry: ModelRegistry) -> Pipeline:
    return Pipeline(registry, max_pixels=40_000_000)


def test_a_custom_model_answers_in_its_own_classes(
    pipeline: Pipeline, make_custom_model: MakeCustomModel, brick_photo: bytes, gravel_photo: bytes
) -> None:
    make_custom_model("walls")
    brick = pipeline.classify(image_bytes=brick_photo, model_name="walls", top_k=5)
    gravel = pipeline.classify(image_bytes=gravel_photo, model_name="walls", top_k=5)
    assert [p.label for p in brick.predictions][:1] == ["brick"]
    assert [p.label for p in gravel.predictions][:1] == ["gravel"]
    assert len(brick.predictions) == 2  # top 5 of two classes
    assert {(p.class_id, p.index) for p in brick.predictions} == {("brick", 0), ("gravel", 1)}
    assert brick.hedge is None and brick.confidence in ("high", "low")
    assert sum(p.score for p in brick.predictions) == pytest.approx(1.0, abs=1e-5)


def test_the_backbone_is_not_loaded_again_and_the_head_once_per_version(
    registry: ModelRegistry, make_custom_model: MakeCustomModel
) -> None:
    row = make_custom_model("walls")
    backbone = registry.get("efficientnet_lite0")
    first = registry.get("walls")
    assert registry.get("walls") is first
    assert registry.get("efficientnet_lite0") is backbone
    backbone_layers = {id(layer) for layer in backbone.compiled.model.layers}
    assert {id(layer) for layer in first.compiled.model.layers[:-2]} <= backbone_layers
    row.delete()
    with pytest.raises(ModelNotFound):
        registry.get("walls")
    make_custom_model("walls")  # uploaded again under the same name: a new row, a new version
    assert registry.get("walls") is not first


def test_a_model_still_training_or_trained_on_other_weights_is_not_ready(
    registry: ModelRegistry, make_custom_model: MakeCustomModel
) -> None:
    make_custom_model("growing", state="training")
    with pytest.raises(ModelNotReady, match="training"):
        registry.get("growing")
    make_custom_model("elsewhere")
    CustomModel.objects.filter(name="elsewhere").update(backbone_fingerprint="0" * 16)
    with pytest.raises(ModelNotReady, match="other efficientnet_lite0 weights"):
        registry.get("elsewhere")


def test_grad_cam_explains_a_custom_class_through_backbone_and_head(
    pipeline: Pipeline, make_custom_model: MakeCustomModel, brick_photo: bytes
) -> None:
    make_custom_model("walls")
    result = pipeline.classify(image_bytes=brick_photo, model_name="walls")
    for index in (0, 1):
        explanation = pipeline.explain(
            model_name="walls", model_input=result.model_input, photo=result.thumbnail, class_index=index
        )
        assert explanation.class_index == index and explanation.heatmap.ndim == 2
        assert explanation.heatmap.shape[0] > 1 and explanation.overlay.startswith(b"\x89PNG")
    with pytest.raises(Exception, match="from 0 to 1"):
        pipeline.explain(model_name="walls", model_input=result.model_input, photo=result.thumbnail, class_index=2)


def test_compare_sets_a_custom_model_beside_the_pretrained_ones_outside_the_ensemble(
    pipeline: Pipeline, make_custom_model: MakeCustomModel, brick_photo: bytes
) -> None:
    make_custom_model("walls")
    comparison = pipeline.compare(image_bytes=brick_photo, top_k=3, custom=["walls"])
    answer = comparison.as_dict()
    kinds = {model["model"]: model["kind"] for model in answer["models"]}
    assert kinds["walls"] == "custom" and kinds["efficientnet_lite0"] == "imagenet"
    imagenet = [result for result in comparison.results if result.model != "walls"]
    assert comparison.ensemble_scores is not None and comparison.ensemble_scores.shape == (1000,)
    assert (
        answer["ensemble"]["predictions"] == [p.as_dict() for p in comparison.ensemble]
        and len(imagenet) == len(comparison.results) - 1
    )
    assert all("walls" not in pair["models"] for pair in answer["agreement"]["pairwise_overlap"])
