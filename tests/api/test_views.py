from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from recognizer.inference.registry import ModelRegistry
from tests.conftest import OfflineRegistry
from tests.images import png_bytes


def post_image(client: Client, data: bytes, path: str = "/api/v1/classify", **fields: object):
    file = SimpleUploadedFile("photo.png", data, content_type="image/png")
    return client.post(path, {"image": file, **fields})


def assert_error(response, status: int, fragment: str) -> None:  # noqa: ANN001
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert fragment in response.json()["error"]


def test_models_lists_every_enabled_model_with_its_state(client: Client, registry: ModelRegistry) -> None:
    response = client.get("/api/v1/models")
    assert response.status_code == 200
    models = response.json()["models"]
    assert [model["name"] for model in models] == ["resnet50", "vgg19", "efficientnet_lite0"]
    assert models[0] == {
        "name": "resnet50",
        "label": "ResNet50",
        "input_size": 224,
        "state": "ready",
        "reason": "",
        "summary": "ready",
        "weights": "random",
        "kind": "imagenet",
        "restarts": 0,
        "precision": "fp32",
        "runtime": "keras",
    }


def test_classify_multipart_returns_top_k_highest_first(registry: ModelRegistry) -> None:
    client = Client(enforce_csrf_checks=True)  # the API needs no CSRF token and no session
    response = post_image(client, png_bytes(), model="vgg19", top_k="7")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"model", "predictions", "hedge", "confidence", "timings_ms", "cached", "permalink"}
    assert body["model"] == "vgg19" and body["cached"] is False
    scores = [prediction["score"] for prediction in body["predictions"]]
    assert len(scores) == 7 and scores == sorted(scores, reverse=True)
    assert set(body["predictions"][0]) == {"label", "class_id", "index", "score"}
    assert re.fullmatch(r"n\d{8}", body["predictions"][0]["class_id"])
    assert set(body["timings_ms"]) == {"decode", "preprocess", "queue", "inference", "total"}
    assert re.fullmatch(r"/r/[0-9a-f-]{36}/", body["permalink"])
    assert "sessionid" not in response.cookies


def test_classify_raw_body_with_query_parameters_and_default_model(client: Client, registry: ModelRegistry) -> None:
    response = client.post("/api/v1/classify?top_k=3", data=png_bytes(100, 80), content_type="image/png")
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "resnet50"
    assert len(body["predictions"]) == 3


def test_missing_image_field_is_a_400(client: Client) -> None:
    response = client.post("/api/v1/classify", {"model": "resnet50"})
    assert_error(response, 400, "Expected an image file in the multipart field 'image'. Received fields: model")
    response = client.post("/api/v1/classify", {"model": "resnet50", "other": SimpleUploadedFile("a.png", b"x")})
    assert_error(response, 400, "Expected an image file in the multipart field 'image'. Received fields: model, other")


@pytest.mark.parametrize("top_k", ["0", "21", "abc", "2.5", "-1"])
def test_top_k_outside_1_to_20_is_a_400(client: Client, top_k: str) -> None:
    response = post_image(client, png_bytes(), top_k=top_k)
    assert_error(response, 400, f"Expected top_k to be a whole number from 1 to 20. Received {top_k!r}")


def test_unknown_model_is_a_404_naming_the_models(client: Client) -> None:
    response = post_image(client, png_bytes(), model="alexnet")
    assert_error(
        response,
        404,
        "Expected one of resnet50, vgg19, efficientnet_lite0 or the name of a custom model of yours. "
        "Received: 'alexnet'",
    )


def test_wrong_method_is_a_405_with_allow(client: Client) -> None:
    response = client.get("/api/v1/classify")
    assert_error(response, 405, "Expected POST on /api/v1/classify. Received GET")
    assert response["Allow"] == "POST"
    assert_error(client.post("/api/v1/models"), 405, "Expected GET")


def test_raw_body_over_the_cap_is_a_413(client: Client, settings) -> None:  # noqa: ANN001
    settings.IMGREC_MAX_UPLOAD_MB = 1
    settings.IMGREC_MAX_UPLOAD_BYTES = 1024 * 1024
    response = client.post("/api/v1/classify", data=b"\0" * (1024 * 1024 + 1), content_type="image/jpeg")
    assert_error(response, 413, "Expected an upload of at most 1 MB. Received 1.0 MB or more")


def test_text_body_is_a_415_and_so_is_a_json_request(client: Client, registry: ModelRegistry) -> None:
    response = client.post("/api/v1/classify", data=b"hello, I am text", content_type="image/jpeg")
    assert_error(response, 415, "Expected an image in one of JPEG, PNG, WebP, GIF or BMP")
    response = client.post("/api/v1/classify", data={"image": "x"}, content_type="application/json")
    assert_error(response, 415, "Received Content-Type 'application/json'")
    response = client.post("/api/v1/classify", data=b"", content_type="")
    assert_error(response, 415, "Received no Content-Type")


def test_model_without_weights_is_a_503_with_retry_after(client: Client, offline_registry: OfflineRegistry) -> None:
    offline_registry(["resnet50"])
    response = post_image(client, png_bytes(), model="resnet50")
    assert_error(response, 503, "weights not available offline")
    assert response["Retry-After"] == "5"


def test_openapi_document_describes_the_operations(client: Client) -> None:
    document = client.get("/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {
        "/api/v1/models",
        "/api/v1/classify",
        "/api/v1/compare",
        "/api/v1/jobs",
        "/api/v1/jobs/{job_id}",
        "/api/v1/jobs/{job_id}/results",
        "/api/v1/jobs/{job_id}/results.csv",
        "/api/v1/jobs/{job_id}/cancel",
        "/api/v1/custom-models",
        "/api/v1/custom-models/upload",
        "/api/v1/custom-models/{name}",
        "/api/v1/custom-models/{name}/download",
        "/api/v1/custom-models/{name}/train",
    }
    classify = document["paths"]["/api/v1/classify"]["post"]
    assert {"200", "400", "404", "405", "413", "415", "503"} <= set(classify["responses"])
    assert "multipart/form-data" in classify["requestBody"]["content"]
    model_parameter = next(p for p in classify["parameters"] if p["name"] == "model")
    assert model_parameter["schema"]["anyOf"][0]["enum"] == ["resnet50", "vgg19", "efficientnet_lite0"]


def test_docs_page_is_rendered_from_the_document_without_a_cdn(client: Client) -> None:
    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    for path in ("/api/v1/models", "/api/v1/classify", "/api/v1/compare"):
        assert f"<code>{path}</code>" in html
    assert "No session, cookie or CSRF token is needed" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)


def test_a_classification_sent_by_our_own_page_is_in_that_browsers_history(registry: ModelRegistry) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.get("/")  # the upload page sets the CSRF cookie its form's token matches
    token = browser.cookies["csrftoken"].value
    response = post_image(browser, png_bytes(), model="resnet50", csrfmiddlewaretoken=token)
    assert response.status_code == 200
    assert response.json()["permalink"] in browser.get("/history/").content.decode()


@pytest.mark.parametrize("token", [None, "forged-token-forged-token-forged1"])
def test_other_api_clients_stay_out_of_every_history(registry: ModelRegistry, token: str | None) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.get("/")
    fields = {} if token is None else {"csrfmiddlewaretoken": token}
    response = post_image(browser, png_bytes(), model="resnet50", **fields)
    assert response.status_code == 200
    assert 'id="history-empty"' in browser.get("/history/").content.decode()


def test_long_values_are_echoed_cut_to_100_characters(client: Client) -> None:
    response = post_image(client, png_bytes(), top_k="9" * 1000)
    assert_error(response, 400, "Received '" + "9" * 100 + "'… (1,000 characters)")
    response = client.post("/api/v1/classify", data=b"x", content_type="text/" + "t" * 500)
    assert_error(response, 415, "Received Content-Type 'text/" + "t" * 95 + "'… (505 characters)")
    fields = {f"field_{n:03d}": "x" for n in range(200)}
    response = client.post("/api/v1/classify", fields)
    assert_error(response, 400, "Received fields: field_000, field_001")
    assert len(response.json()["error"]) < 200


def test_a_text_upload_is_named_in_words(client: Client, registry: ModelRegistry) -> None:
    response = post_image(client, b"these are words, not pixels\n" * 20)
    assert_error(response, 415, "Received a text file (560 bytes)")
    assert "b'" not in response.json()["error"]
