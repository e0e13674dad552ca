from __future__ import annotations

import re

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from recognizer.comparison import compare_image
from recognizer.imaging import decode_image, resize_to_array
from recognizer.registry import SPECS_BY_NAME, ModelRegistry
from tests.conftest import OfflineRegistry
from tests.images import png_bytes

THREE_MODELS = ("resnet50", "inception_v3", "densenet121")


@pytest.fixture(scope="module")
def three_models() -> ModelRegistry:
    """Three models with different inputs and preprocessing (224 caffe, 299 tf, 224 torch), random weights."""
    registry = ModelRegistry([SPECS_BY_NAME[name] for name in THREE_MODELS], weights_mode="random")
    registry.load_all(allow_download=False)
    return registry


def probability_vector(registry: ModelRegistry, name: str, image_bytes: bytes) -> np.ndarray:
    """One model's 1000 probabilities, computed on its own, outside compare_image."""
    model = registry.get(name)
    pixels = resize_to_array(decode_image(image_bytes, max_pixels=10**8), model.spec.input_size)
    return model.compiled.forward(model.spec.preprocess(pixels[None, ...]))[0]


def test_ensemble_is_the_mean_of_the_three_probability_vectors(three_models: ModelRegistry) -> None:
    image_bytes = png_bytes()
    comparison = compare_image(image_bytes=image_bytes, top_k=5, max_pixels=10**8, registry=three_models)
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
    comparison = compare_image(image_bytes=png_bytes(), top_k=5, max_pixels=10**8, registry=three_models)
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


def test_compare_api_and_page(client: Client, three_models: ModelRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("recognizer.api.get_registry", lambda: three_models)
    monkeypatch.setattr("recognizer.comparison.get_registry", lambda: three_models)
    monkeypatch.setattr("recognizer.compare_views.get_registry", lambda: three_models)
    image_bytes = png_bytes()
    response = client.post("/api/v1/compare?top_k=3", data=image_bytes, content_type="image/png")
    assert response.status_code == 200
    body = response.json()
    assert [model["model"] for model in body["models"]] == list(THREE_MODELS)
    assert all(len(model["predictions"]) == 3 for model in body["models"])
    assert all(model["timings_ms"]["inference"] > 0 for model in body["models"])
    expected = np.mean([probability_vector(three_models, name, image_bytes) for name in THREE_MODELS], axis=0)
    assert [p["index"] for p in body["ensemble"]["predictions"]] == np.argsort(-expected)[:3].tolist()
    assert body["skipped"] == []

    file = SimpleUploadedFile("photo.png", image_bytes, content_type="image/png")
    html = client.post("/compare/", {"image": file}).content.decode()
    assert len(re.findall(r'src="data:image/svg\+xml;base64,', html)) == 4  # three models + the ensemble
    for name in THREE_MODELS:
        assert f'id="model-{name}"' in html
    assert 'id="ensemble"' in html and 'id="agreement"' in html


def test_compare_skips_a_model_without_weights_and_503s_when_none_is_left(
    client: Client, offline_registry: OfflineRegistry
) -> None:
    offline_registry(["vgg16"], serving=("recognizer.api",))
    response = client.post("/api/v1/compare", data=png_bytes(), content_type="image/png")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "vgg16: Model 'vgg16' is not available: weights not available offline" in response.json()["error"]


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
