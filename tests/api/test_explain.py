"""`explain=true` on the API: the Grad-CAM grid, its overlay and the model input; hedge and confidence always."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from recognizer.inference.registry import ModelRegistry
from tests.images import png_bytes
from tests.inference.photos import CHELSEA
from tests.inference.test_gradcam import CHELSEA_CAT

PNG_PREFIX = "data:image/png;base64,"


def post(client: Client, data: bytes, path: str = "/api/v1/classify", **fields: object):  # noqa: ANN201
    headers = {name: fields.pop(name) for name in list(fields) if name.startswith("HTTP_")}
    image = SimpleUploadedFile("photo.png", data, content_type="image/png")
    return client.post(path, {"image": image, **fields}, **headers)


def decode_png(uri: str) -> Image.Image:
    assert uri.startswith(PNG_PREFIX)
    image = Image.open(io.BytesIO(base64.b64decode(uri[len(PNG_PREFIX) :])))
    assert image.format == "PNG"
    return image


def assert_grid(grid: list[list[float]]) -> np.ndarray:
    cells = np.asarray(grid, dtype=np.float64)
    assert cells.ndim == 2 and cells.shape[0] >= 7 and cells.shape[1] >= 7
    assert cells.min() >= 0.0 and cells.max() <= 1.0
    return cells


def test_every_answer_has_a_hedge_and_a_confidence(client: Client, registry: ModelRegistry) -> None:
    body = post(client, png_bytes(), model="resnet50").json()
    assert body["confidence"] in ("high", "low")
    assert body["hedge"] is None or set(body["hedge"]) == {"label", "class_id", "score"}
    assert "explanation" not in body
    for model in post(client, png_bytes(), "/api/v1/compare").json()["models"]:
        assert model["confidence"] in ("high", "low") and "hedge" in model


@pytest.mark.parametrize("model", ["resnet50", "vgg19", "efficientnet_lite0"])
def test_explain_true_adds_the_grid_overlay_and_model_input(
    client: Client, registry: ModelRegistry, model: str
) -> None:
    response = post(client, png_bytes(320, 240), model=model, explain="true")
    assert response.status_code == 200
    body = response.json()
    explanation = body["explanation"]
    assert set(explanation) == {"class_index", "grid", "overlay", "model_input"}
    assert explanation["class_index"] == body["predictions"][0]["index"]
    assert_grid(explanation["grid"])
    assert decode_png(explanation["model_input"]).size == (224, 224)
    overlay = decode_png(explanation["overlay"])
    assert overlay.width > overlay.height  # the photo's 4:3 frame (and a colour bar), not the square input
    assert body["timings_ms"]["explain"] > 0


def test_explain_class_explains_the_class_asked_for(client: Client, registry: ModelRegistry) -> None:
    body = post(client, png_bytes(), model="efficientnet_lite0", explain_class="282").json()
    assert body["explanation"]["class_index"] == 282
    assert_grid(body["explanation"]["grid"])


def test_a_cached_answer_is_explained_too(client: Client, registry: ModelRegistry) -> None:
    # Only a browser session is answered from the cache: these come from our own page (its CSRF token).
    page = {"HTTP_X_CSRFTOKEN": "from-the-page"}
    first = post(client, png_bytes(200, 150), model="efficientnet_lite0", **page).json()
    again = post(client, png_bytes(200, 150), model="efficientnet_lite0", explain="1", **page).json()
    assert again["cached"] is True
    assert (again["hedge"], again["confidence"]) == (first["hedge"], first["confidence"])
    assert again["explanation"]["class_index"] == first["predictions"][0]["index"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"explain": "yes"}, "Expected explain to be true or false. Received 'yes'"),
        ({"explain": "TRUE "}, "Expected explain to be true or false"),
        ({"explain_class": "1000"}, "Expected explain_class to be a class index from 0 to 999. Received '1000'"),
        ({"explain_class": "-1"}, "Expected explain_class to be a class index"),
    ],
)
def test_bad_explain_values_are_400_naming_what_was_expected(
    client: Client, registry: ModelRegistry, fields: dict[str, str], expected: str
) -> None:
    response = post(client, png_bytes(), model="efficientnet_lite0", **fields)
    assert response.status_code == 400
    assert expected in response.json()["error"]


def test_compare_explains_every_model(client: Client, registry: ModelRegistry) -> None:
    response = client.post(
        "/api/v1/compare?explain=true",
        {"image": SimpleUploadedFile("photo.png", png_bytes(), content_type="image/png")},
    )
    assert response.status_code == 200
    models = response.json()["models"]
    assert [model["model"] for model in models] == ["resnet50", "vgg19", "efficientnet_lite0"]
    for model in models:
        assert model["explanation"]["class_index"] == model["predictions"][0]["index"]
        assert_grid(model["explanation"]["grid"])
        decode_png(model["explanation"]["overlay"])
        assert model["timings_ms"]["explain"] > 0


@pytest.mark.slow
def test_the_hottest_cell_of_the_api_grid_is_on_the_cat_in_chelsea(client: Client, registry: ModelRegistry) -> None:
    body = post(client, CHELSEA.read_bytes(), model="efficientnet_lite0", explain="true").json()
    cells = assert_grid(body["explanation"]["grid"])
    row, column = np.unravel_index(np.argmax(cells), cells.shape)
    width, height = Image.open(CHELSEA).size
    x, y = (column + 0.5) * width / cells.shape[1], (row + 0.5) * height / cells.shape[0]
    left, top, right, bottom = CHELSEA_CAT
    assert left <= x <= right and top <= y <= bottom, (row, column, cells.shape)
