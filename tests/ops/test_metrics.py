"""Prometheus /metrics: what it counts, who may read it, and several processes aggregated."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.test import Client

from recognizer.inference.registry import ModelRegistry
from tests.images import png_bytes


def scrape(client: Client, **headers: str) -> str:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def test_metrics_count_requests_refusals_batches_and_model_states(client: Client, registry: ModelRegistry) -> None:
    assert client.post("/api/v1/classify", data=png_bytes(), content_type="image/png").status_code == 200
    assert client.post("/api/v1/classify", data=b"<svg/>", content_type="image/svg+xml").status_code == 415
    text = scrape(client)
    assert 'imgrec_requests_total{method="POST",status="200",view="recognizer:api_classify"}' in text
    assert 'imgrec_refusals_total{status="415"}' in text
    assert 'imgrec_request_duration_seconds_bucket{le="30.0",view="recognizer:api_classify"}' in text
    assert 'imgrec_batch_size_count{model="resnet50"}' in text
    assert 'imgrec_inference_seconds_sum{model="resnet50"}' in text
    assert 'imgrec_model_state{model="resnet50",state="ready"} 1.0' in text
    assert 'imgrec_queue_depth{model="vgg19"} 0.0' in text
    assert client.head("/metrics").status_code == 200


def test_metrics_are_refused_to_other_addresses_unless_they_bring_the_token(settings) -> None:  # noqa: ANN001
    outsider = Client(REMOTE_ADDR="203.0.113.9")
    assert outsider.get("/metrics").status_code == 403
    settings.IMGREC_METRICS_TOKEN = "s3cret-token"
    assert outsider.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    scrape(outsider, HTTP_AUTHORIZATION="Bearer s3cret-token")
    settings.IMGREC_METRICS_ALLOW = ["203.0.113.9"]
    scrape(outsider)


def test_through_a_front_the_forwarded_client_decides_not_the_loopback_hop(client: Client, settings) -> None:  # noqa: ANN001
    # No proxy header trusted, yet the request was forwarded: its real client is unknown, so refused.
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 403
    settings.IMGREC_CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 403
    scrape(client, HTTP_X_FORWARDED_FOR="127.0.0.1")


def test_several_processes_are_aggregated_through_prometheus_multiproc_dir(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "imgrec_site.settings"}
    setup = "import django; django.setup()\nfrom django.test import Client\n"
    for _ in range(2):
        one = subprocess.run(
            [sys.executable, "-c", setup + "assert Client(HTTP_HOST='localhost').get('/healthz').status_code == 200"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert one.returncode == 0, one.stderr
    scraper = subprocess.run(
        [sys.executable, "-c", setup + "print(Client(HTTP_HOST='localhost').get('/metrics').content.decode())"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert scraper.returncode == 0, scraper.stderr
    assert 'imgrec_requests_total{method="GET",status="200",view="recognizer:healthz"} 2.0' in scraper.stdout
