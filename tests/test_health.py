"""The /healthz and /readyz probes."""

from __future__ import annotations

import pytest
from django.test import Client

from recognizer.registry import ModelRegistry


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
