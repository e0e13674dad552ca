from __future__ import annotations

import re

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from recognizer import serving
from recognizer.inference.registry import ModelRegistry
from tests.conftest import THREE_MODELS, OfflineRegistry
from tests.images import png_bytes
from tests.inference.test_pipeline import probability_vector


def test_compare_api_and_page(client: Client, three_models: ModelRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serving, "get_registry", lambda: three_models)
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
    offline_registry(["vgg16"])
    response = client.post("/api/v1/compare", data=png_bytes(), content_type="image/png")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "vgg16: Model 'vgg16' is not available: weights not available offline" in response.json()["error"]


def test_with_one_usable_model_there_is_no_ensemble_on_the_page_or_in_the_api(
    client: Client, offline_registry: OfflineRegistry
) -> None:
    offline_registry(["resnet50", "efficientnet_lite0"])
    body = client.post("/api/v1/compare", data=png_bytes(), content_type="image/png").json()
    assert [model["model"] for model in body["models"]] == ["efficientnet_lite0"]
    assert body["ensemble"] is None and body["agreement"] is None
    assert [item["model"] for item in body["skipped"]] == ["resnet50"]
    assert "fetch_weights resnet50" in body["skipped"][0]["reason"]  # the API keeps the full reason

    file = SimpleUploadedFile("photo.png", png_bytes(), content_type="image/png")
    html = client.post("/compare/", {"image": file}).content.decode()
    assert 'id="model-efficientnet_lite0"' in html
    assert 'id="ensemble"' not in html and "Ensemble" not in html and "mean of 1" not in html
    assert "Only EfficientNet-Lite0 is ready: nothing to compare it with, and no ensemble" in html
    assert "ResNet50 skipped: unavailable: no weights offline" in html
    assert "fetch_weights" not in html
    assert len(re.findall(r'src="data:image/svg\+xml;base64,', html)) == 1
