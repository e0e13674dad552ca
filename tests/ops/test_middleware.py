"""Security headers, CSRF, body limits before the CSRF check, and our error pages."""

from __future__ import annotations

import re
import socket

import pytest
from django.conf import settings as live_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory
from django.views import defaults

from tests.hostile_corpus import HostileCase, UploadFile, post_case, response_message
from tests.images import png_bytes


def test_pages_carry_the_security_headers(client: Client) -> None:
    response = client.get("/")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "img-src 'self' data:" in csp and "script-src 'self';" in csp
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp


@pytest.mark.parametrize("url", ["/", "/about/", "/no-such-page/"])
def test_no_page_has_inline_script_or_style(client: Client, url: str) -> None:
    html = client.get(url).content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert " style=" not in html and "<style" not in html
    assert not re.search(r"<[^>]+\son[a-z]+=", html)  # no inline event handlers either


def test_the_upload_form_carries_a_csrf_token(client: Client) -> None:
    assert 'name="csrfmiddlewaretoken"' in client.get("/").content.decode()


def test_a_post_without_csrf_token_gets_our_403_page() -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/", {"image": SimpleUploadedFile("a.png", png_bytes()), "model": "resnet50"})
    assert response.status_code == 403
    text = response_message(response)
    assert "Form expired" in text and "security token" in text
    assert "Traceback" not in text and "CSRF_" not in text and "SECRET" not in text


def csrf_client() -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True)
    client.get("/")
    return client, client.cookies["csrftoken"].value


def test_too_large_and_too_many_files_beat_the_csrf_check(settings) -> None:  # noqa: ANN001
    settings.IMGREC_MAX_UPLOAD_MB = 1
    settings.IMGREC_MAX_UPLOAD_BYTES = 1024 * 1024
    client, token = csrf_client()
    for size in (1024 * 1024 + 16 * 1024, 2 * 1024 * 1024):  # cut while streaming; refused from its length
        image = SimpleUploadedFile("b.png", b"\0" * size)
        response = client.post("/", {"csrfmiddlewaretoken": token, "image": image})
        assert response.status_code == 413
        assert "Expected an upload of at most 1 MB" in response_message(response)
    big = HostileCase("big", lambda: [UploadFile("big.png", b"\0" * (2 * 1024 * 1024))], 413)
    # Without a token at all: still our message, since nothing of the body is trusted or used.
    assert post_case(client, "/", big).status_code == 413
    two = [SimpleUploadedFile(f"{i}.png", png_bytes()) for i in range(2)]
    response = client.post("/", {"csrfmiddlewaretoken": token, "model": "resnet50", "image": two})
    assert response.status_code == 400
    assert "Expected one image file per request" in response_message(response)


def test_a_broken_multipart_body_is_a_400_saying_so(client: Client) -> None:
    response = client.generic("POST", "/", b"--nope\r\n", content_type="multipart/form-data; boundary=")
    assert response.status_code == 400
    assert "Expected a multipart/form-data body" in response_message(response)


@pytest.mark.parametrize(
    ("view", "status", "title"),
    [
        (lambda request: defaults.bad_request(request, Exception("secret detail")), 400, "Bad request"),
        (lambda request: defaults.permission_denied(request, Exception("secret detail")), 403, "Forbidden"),
        (lambda request: defaults.page_not_found(request, Exception("secret detail")), 404, "Not found"),
        (defaults.server_error, 500, "Server error"),
    ],
    ids=["400", "403", "404", "500"],
)
def test_error_pages_are_ours_and_leak_nothing(view, status: int, title: str) -> None:  # noqa: ANN001
    response = view(RequestFactory().get("/x"))
    text = response.content.decode()
    assert response.status_code == status
    assert title in text and "/static/bootstrap/css/bootstrap.min.css" in text
    assert "secret detail" not in text and "Traceback" not in text and "SECRET_KEY" not in text


def test_an_unknown_page_is_our_404(client: Client) -> None:
    response = client.get("/wp-admin/")
    assert response.status_code == 404
    assert "There is no page at this address" in response.content.decode()


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [("get", "/", 200), ("get", "/healthz", 200), ("get", "/no-such-page/", 404), ("post", "/api/v1/classify", 400)],
)
def test_every_response_names_the_node_that_answered(
    settings,  # noqa: ANN001
    method: str,
    url: str,
    status: int,
) -> None:
    settings.IMGREC_NODE_NAME = "node7"
    response = getattr(Client(), method)(url)
    assert response.status_code == status
    assert response["X-Imgrec-Node"] == "node7"


def test_the_node_name_defaults_to_the_host_name() -> None:
    assert live_settings.IMGREC_NODE_NAME == socket.gethostname()  # pyproject sets no IMGREC_NODE_NAME
