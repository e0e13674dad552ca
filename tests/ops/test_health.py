"""The /healthz and /readyz probes."""

from __future__ import annotations

import pytest
from django.test import Client

from recognizer.inference.catalog import SPECS_BY_NAME
from recognizer.inference.registry import ModelRegistry
from tests.conftest import ServeRegistry
from tests.inference.test_batching import kill_the_worker
from tests.inference.test_registry import tiny_spec


def test_healthz_says_alive(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "alive"}


def test_readyz_is_200_when_every_model_is_ready(client: Client, registry: ModelRegistry) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert [m["state"] for m in response.json()["models"]] == ["ready"] * len(registry.names)


def test_readyz_is_503_with_the_states_while_models_are_not_ready(
    client: Client, serve_registry: ServeRegistry
) -> None:
    serve_registry(ModelRegistry([SPECS_BY_NAME["resnet50"], SPECS_BY_NAME["vgg19"]], weights_mode="random"))
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["ready"] is False
    assert {m["name"]: m["state"] for m in body["models"]} == {"resnet50": "pending", "vgg19": "pending"}


def test_probes_are_exempt_from_the_https_redirect(client: Client, settings) -> None:  # noqa: ANN001
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/").status_code == 301
    assert client.get("/healthz").status_code == 200


def test_readyz_reports_a_model_whose_worker_died_until_it_is_restarted(
    client: Client, serve_registry: ServeRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = serve_registry(ModelRegistry([tiny_spec("tiny")], weights_mode="random"))
    restart = registry._start_again
    monkeypatch.setattr(registry, "_start_again", lambda name: None)  # hold the restart back
    kill_the_worker(registry, "tiny", monkeypatch)
    dead = client.get("/readyz")
    assert dead.status_code == 503
    [model] = dead.json()["models"]
    assert model["state"] == "failed" and "MemoryError" in model["reason"] and model["restarts"] == 1

    restart("tiny")
    alive = client.get("/readyz")
    assert alive.status_code == 200
    assert alive.json()["models"][0]["restarts"] == 1
