"""Security headers, CSRF, error pages, the rate limit and production settings."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import InMemoryUploadedFile, SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client, RequestFactory
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.views import defaults

from recognizer.registry import ModelRegistry
from recognizer.uploads import CappedMemoryUploadHandler
from tests.hostile_corpus import HostileCase, UploadFile, post_case, response_message
from tests.images import png_bytes

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def fresh_rate_limit_counters() -> None:
    cache.clear()


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


# --- rate limit ------------------------------------------------------------------------------------


def test_the_rate_limit_answers_429_with_retry_after_per_client(client: Client, settings) -> None:  # noqa: ANN001
    settings.IMGREC_RATE_LIMIT = "2/minute"
    for _ in range(2):
        assert client.post("/", {"model": "resnet50"}).status_code == 400  # no file: counted, cheap
    limited = client.post("/", {"model": "resnet50"})
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert "Expected at most 2/minute requests per client" in response_message(limited)
    assert client.get("/").status_code == 200  # reading the form is not limited
    other = Client(REMOTE_ADDR="10.0.0.2")
    assert other.post("/", {"model": "resnet50"}).status_code == 400


def test_the_rate_limit_can_key_on_a_trusted_proxy_header(client: Client, settings) -> None:  # noqa: ANN001
    settings.IMGREC_RATE_LIMIT = "1/hour"
    settings.IMGREC_CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    assert client.post("/", {}, HTTP_X_FORWARDED_FOR="spoofed, 203.0.113.7").status_code == 400
    assert client.post("/", {}, HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 429
    assert client.post("/", {}, HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 400


def test_a_bad_rate_limit_setting_fails_the_system_check(settings) -> None:  # noqa: ANN001
    settings.IMGREC_RATE_LIMIT = "lots"
    with pytest.raises(SystemCheckError, match=r"recognizer.E003.*IMGREC_RATE_LIMIT='lots'; use N/period"):
        call_command("check")


# --- uploads never touch the disk ---------------------------------------------------------------------


def test_a_large_upload_stays_in_memory(settings, tmp_path: Path) -> None:  # noqa: ANN001
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    data = os.urandom(9 * 1024 * 1024)  # under the 10 MB cap, far over Django's 2.5 MB default
    body = encode_multipart(BOUNDARY, {"image": SimpleUploadedFile("big.png", data)})
    request = RequestFactory().generic("POST", "/", body, content_type=MULTIPART_CONTENT)
    uploaded = request.FILES["image"]
    assert [type(handler) for handler in request.upload_handlers] == [CappedMemoryUploadHandler]
    assert isinstance(uploaded, InMemoryUploadedFile) and uploaded.read() == data
    assert list(tmp_path.iterdir()) == []


# --- production settings ---------------------------------------------------------------------------

PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "k3Jx9-wq_fP2mZr8LtV0aYbN6cH4sE1uG7oD5iQpRlTvWzXyMnBe3jKg9hF2dSa",
    "DJANGO_ALLOWED_HOSTS": "imgrec.example.org",
    "DJANGO_HTTPS": "true",
    "DJANGO_HSTS_PRELOAD": "true",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://imgrec.example.org",
}


def check_deploy(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    clean = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", **env}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT_ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_the_documented_production_environment(tmp_path: Path) -> None:
    done = check_deploy(PRODUCTION_ENV, tmp_path)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "no issues" in done.stdout


def test_check_deploy_fails_without_https(tmp_path: Path) -> None:
    done = check_deploy({**PRODUCTION_ENV, "DJANGO_HTTPS": "false"}, tmp_path)
    assert done.returncode != 0
    assert "security.W004" in done.stderr and "security.W012" in done.stderr


def test_production_start_without_secret_key_is_a_clear_error(tmp_path: Path) -> None:
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != "DJANGO_SECRET_KEY"}
    done = check_deploy(env, tmp_path)
    assert done.returncode != 0
    assert "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is false" in done.stderr


# --- health -------------------------------------------------------------------------------------------


def test_healthz_says_alive(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "alive"}


def test_readyz_is_200_when_every_model_is_ready(client: Client, registry: ModelRegistry) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert [m["state"] for m in response.json()["models"]] == ["ready"] * len(registry.names)


def test_readyz_is_503_with_the_states_while_models_are_not_ready(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recognizer.registry import SPECS_BY_NAME

    fresh = ModelRegistry([SPECS_BY_NAME["resnet50"], SPECS_BY_NAME["vgg19"]], weights_mode="random")
    monkeypatch.setattr("recognizer.health.get_registry", lambda: fresh)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["ready"] is False
    assert {m["name"]: m["state"] for m in body["models"]} == {"resnet50": "pending", "vgg19": "pending"}


def test_probes_are_exempt_from_the_https_redirect(client: Client, settings) -> None:  # noqa: ANN001
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/").status_code == 301
    assert client.get("/healthz").status_code == 200
