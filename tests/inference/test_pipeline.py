from __future__ import annotations

import re

import numpy as np
import pytest

from recognizer.inference.catalog import SPECS_BY_NAME
from recognizer.inference.imaging import decode_image, resize_to_array
from recognizer.inference.pipeline import Pipeline
from recognizer.inference.registry import ModelRegistry
from tests.conftest import THREE_MODELS
from tests.images import png_bytes
from tests.inference.test_registry import tiny_spec


def probability_vector(registry: ModelRegistry, name: str, image_bytes: bytes) -> np.ndarray:
    """One model's 1000 probabilities, computed on its own, outside the pipeline."""
    model = registry.get(name)
    pixels = resize_to_array(decode_image(image_bytes, max_pixels=10**8), model.spec.input_size)
    return model.compiled.forward(model.spec.preprocess(pixels[None, ...]))[0]


def test_ensemble_is_the_mean_of_the_three_probability_vectors(three_models: ModelRegistry) -> None:
    image_bytes = png_bytes()
    comparison = Pipeline(three_models, max_pixels=10**8).compare(image_bytes=image_bytes, top_k=5)
    assert [result.model for result in comparison.results] == list(THREE_MODELS)
    vectors = np.stack([probability_vector(three_models, name, image_bytes) for name in THREE_MODELS])
    expected = vectors.mean(axis=0)
    np.testing.assert_allclose(comparison.ensemble_scores, expected, rtol=1e-5, atol=1e-7)
    best = np.argsort(-expected)[:5]
    assert [p.index for p in comparison.ensemble] == best.tolist()
    np.testing.assert_allclose([p.score for p in comparison.ensemble], expected[best], rtol=1e-5)
    for result, vector in zip(comparison.results, vectors, strict=True):
        assert [p.index for p in result.predictions] == np.argsort(-vector)[:5].tolist()


def test_agreement_reports_top1_and_top5_overlap(three_models: ModelRegistry) -> None:
    comparison = Pipeline(three_models, max_pixels=10**8).compare(image_bytes=png_bytes(), top_k=5)
    agreement = comparison.agreement()
    top1 = {result.predictions[0].class_id for result in comparison.results}
    assert agreement["same_top1"] is (len(top1) == 1)
    sets = [{p.class_id for p in result.predictions} for result in comparison.results]
    assert set(agreement["shared_top_k"]) == sets[0] & sets[1] & sets[2]
    assert agreement["pairwise_overlap"] == [
        {"models": ["resnet50", "inception_v3"], "shared": len(sets[0] & sets[1])},
        {"models": ["resnet50", "densenet121"], "shared": len(sets[0] & sets[2])},
        {"models": ["inception_v3", "densenet121"], "shared": len(sets[1] & sets[2])},
    ]


def test_inception_v3_takes_299_pixels_and_scales_to_minus_one_one() -> None:
    spec = SPECS_BY_NAME["inception_v3"]
    assert spec.input_size == 299
    pixels = np.array([[[0.0, 127.5, 255.0]]], dtype=np.float32)
    np.testing.assert_allclose(spec.preprocess(pixels), [[[-1.0, 0.0, 1.0]]])
    densenet = SPECS_BY_NAME["densenet121"].preprocess(np.full((1, 1, 3), 255.0, dtype=np.float32))
    np.testing.assert_allclose(densenet, [[[(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225]]], rtol=1e-5)


@pytest.mark.parametrize("name", ["vgg16", "inception_v3", "densenet121"])
def test_new_models_name_keras_weights_files(name: str) -> None:
    spec = SPECS_BY_NAME[name]
    assert spec.weights_url is not None and spec.weights_url.endswith("/" + spec.weights_file)
    assert spec.weights_hash is not None and re.fullmatch(r"[0-9a-f]{32}", spec.weights_hash)


def test_one_usable_model_gives_no_ensemble_and_no_agreement() -> None:
    one_model = ModelRegistry([tiny_spec("tiny")], weights_mode="random")
    try:
        comparison = Pipeline(one_model, max_pixels=10**8).compare(image_bytes=png_bytes(), top_k=5)
        assert [result.model for result in comparison.results] == ["tiny"]
        assert comparison.ensemble is None and comparison.ensemble_scores is None
        assert comparison.agreement() is None
        answer = comparison.as_dict()
        assert answer["ensemble"] is None and answer["agreement"] is None
        assert len(answer["models"][0]["predictions"]) == 5
    finally:
        one_model.close()
