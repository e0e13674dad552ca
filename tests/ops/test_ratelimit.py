"""The per-client rate limit."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client

from tests.hostile_corpus import response_message


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
