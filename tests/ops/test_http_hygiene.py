"""HTTP hygiene: HEAD on every GET page and probe, JSON for every failure under /api/, chunked bodies,
and user-supplied values echoed at most ~100 characters."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory
from django.test.client import MULTIPART_CONTENT, encode_multipart

from recognizer.inference.registry import ModelRegistry
from recognizer.ops.handlers import csrf_failure, server_error
from tests.images import png_bytes

GET_URLS = [
    "/",
    "/about/",
    "/compare/",
    "/history/",
    "/history/export.csv",
    "/history/export.json",
    "/healthz",
    "/api/v1/models",
    "/api/v1/openapi.json",
    "/api/docs",
]
LONG = "x" * 1_000_000


def assert_json_error(response, status: int, fragment: str) -> str:  # noqa: ANN001
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    message = json.loads(response.content)["error"]
    assert fragment in message
    return message


@pytest.mark.parametrize("url", GET_URLS)
def test_head_answers_every_get_page_and_probe_without_a_body(client: Client, url: str) -> None:
    response = client.head(url)
    assert response.status_code == 200
    assert response.content == b""


def test_head_readyz_answers_the_same_status_as_get(client: Client, registry: ModelRegistry) -> None:
    assert client.head("/readyz").status_code == client.get("/readyz").status_code == 200


def test_a_wrong_method_on_the_api_names_get_and_head(client: Client) -> None:
    response = client.post("/api/v1/models")
    assert_json_error(response, 405, "Expected GET or HEAD on /api/v1/models. Received POST")
    assert response["Allow"] == "GET, HEAD"


def test_a_multipart_with_ten_thousand_fields_is_a_json_400_under_the_api(client: Client) -> None:
    fields = {f"f{i}": "1" for i in range(10_000)}
    response = client.post("/api/v1/classify", fields)
    assert_json_error(response, 400, "Expected at most 1,000 form fields and one file. Received more")
    page = client.post("/", fields)
    assert page.status_code == 400 and "Expected at most 1,000 form fields" in page.content.decode()


def test_an_unknown_api_path_is_a_json_404_echoing_a_short_path(client: Client) -> None:
    message = assert_json_error(client.get(f"/api/v1/{LONG[:5000]}"), 404, "Expected one of the API's paths")
    assert len(message) < 300
    assert client.get("/no-such-page/")["Content-Type"].startswith("text/html")


def test_a_csrf_failure_under_the_api_is_json_and_a_page_elsewhere() -> None:
    response = csrf_failure(RequestFactory().post("/api/v1/classify"), reason="CSRF cookie not set.")
    assert_json_error(response, 403, "Expected the CSRF token of this site's own form")
    assert Client(enforce_csrf_checks=True).post("/", {}).status_code == 403


@pytest.mark.parametrize("method", ["options", "put", "delete", "patch"])
def test_every_other_method_under_the_api_is_a_json_405(client: Client, method: str) -> None:
    for path in ("/api/docs", "/api/v1/models", "/api/v1/openapi.json"):
        response = getattr(client, method)(path)
        assert_json_error(response, 405, "Expected GET or HEAD")


def test_the_500_handler_answers_json_under_the_api_and_a_page_elsewhere() -> None:
    response = server_error(RequestFactory().get("/api/v1/classify"))
    assert_json_error(response, 500, "Received an internal error")
    assert server_error(RequestFactory().get("/")).status_code == 500


@pytest.mark.parametrize(
    ("fields", "status", "fragment"),
    [
        ({"model": LONG}, 404, "Unknown model"),
        ({"top_k": LONG}, 400, "Expected top_k"),
    ],
)
def test_long_field_values_are_echoed_at_most_about_100_characters(
    client: Client, registry: ModelRegistry, fields: dict[str, str], status: int, fragment: str
) -> None:
    upload = SimpleUploadedFile("photo.png", png_bytes(), content_type="image/png")
    response = client.post("/api/v1/classify", {"image": upload, **fields})
    assert len(assert_json_error(response, status, fragment)) < 400
    page = client.post("/", {"image": SimpleUploadedFile("p.png", png_bytes()), "model": "resnet50", **fields})
    assert page.status_code == status if status == 400 else page.status_code == 400
    assert LONG[:1000] not in page.content.decode()


def test_long_content_types_and_field_names_are_echoed_short(client: Client) -> None:
    odd_type = client.post("/api/v1/classify", b"data", content_type="text/" + LONG[:50_000])
    assert len(assert_json_error(odd_type, 415, "Received Content-Type")) < 400
    names = {f"{LONG[:300]}{i}": "1" for i in range(50)}
    no_image = client.post("/api/v1/classify", names)
    assert len(assert_json_error(no_image, 400, "and 40 more")) < 800


def chunked(client: Client, path: str, body: bytes, content_type: str):  # noqa: ANN201
    """A body as gunicorn passes a chunked request on: no Content-Length, de-chunked in wsgi.input."""
    return client.generic(
        "POST",
        path,
        CONTENT_TYPE=content_type,
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input": io.BytesIO(body)},
    )


def test_a_chunked_image_body_is_read_within_the_cap(client: Client, registry: ModelRegistry, settings) -> None:  # noqa: ANN001
    response = chunked(client, "/api/v1/classify", png_bytes(), "image/png")
    assert response.status_code == 200 and len(response.json()["predictions"]) == 5
    settings.IMGREC_MAX_UPLOAD_MB = 1
    settings.IMGREC_MAX_UPLOAD_BYTES = 1024 * 1024
    too_large = chunked(client, "/api/v1/classify", b"\x89PNG" + bytes(2 * 1024 * 1024), "image/png")
    assert_json_error(too_large, 413, "Expected an upload of at most 1 MB")


def test_a_chunked_multipart_body_is_411(client: Client) -> None:
    file = io.BytesIO(png_bytes())
    file.name = "photo.png"
    body = encode_multipart("BoUnDaRy", {"image": file})
    response = chunked(client, "/api/v1/classify", body, "multipart/form-data; boundary=BoUnDaRy")
    assert_json_error(response, 411, "Expected a multipart/form-data body with a Content-Length")
    assert MULTIPART_CONTENT.startswith("multipart/form-data")
