"""Prometheus metrics at /metrics (prometheus_client), multiprocess-safe, and not public by default.

What is measured: requests by view, method and status, their latency; refusals (411, 413, 415, 429,
503) by status; per model the queue depth, the state, batch sizes and the forward pass time (the last
two reported by the inference core through `batching.observe_batches`, which knows no Prometheus).

Several processes (gunicorn workers, `make cluster`): set PROMETHEUS_MULTIPROC_DIR to an empty
directory before they start; every process writes its values there and a scrape of any of them
aggregates all (queue depth summed over live processes, model state the max).

Who may read them (`metrics_allowed`): a request with `Authorization: Bearer <IMGREC_METRICS_TOKEN>`,
or one whose client address (after the trusted proxy header, IMGREC_CLIENT_IP_HEADER, as the rate
limit sees it) is in IMGREC_METRICS_ALLOW (default loopback). Behind a front every request reaches
the app from loopback, so a request that carries a forwarding header while no proxy header is trusted
is never allowed by address: the default does not expose metrics to the internet through the front.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from recognizer import serving
from recognizer.inference.batching import observe_batches
from recognizer.inference.registry import ModelState
from recognizer.ops.ratelimit import client_ip

Handler = Callable[[HttpRequest], HttpResponse]

REFUSAL_STATUSES = frozenset({411, 413, 415, 429, 503})
FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_FORWARDED")

REQUESTS = Counter("imgrec_requests", "HTTP requests answered", ["view", "method", "status"])
LATENCY = Histogram(
    "imgrec_request_duration_seconds",
    "Time to answer a request",
    ["view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
REFUSALS = Counter("imgrec_refusals", "Requests refused for load or input limits", ["status"])
QUEUE_DEPTH = Gauge("imgrec_queue_depth", "Requests waiting in a model's queue", ["model"], multiprocess_mode="livesum")
MODEL_STATE = Gauge(
    "imgrec_model_state", "1 for the state a model is in", ["model", "state"], multiprocess_mode="livemax"
)
BATCH_SIZE = Histogram("imgrec_batch_size", "Requests per forward pass", ["model"], buckets=(1, 2, 4, 8, 16, 32))
INFERENCE = Histogram(
    "imgrec_inference_seconds",
    "Time of one batched forward pass",
    ["model"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def _observe_batch(model: str, size: int, seconds: float) -> None:
    BATCH_SIZE.labels(model).observe(size)
    INFERENCE.labels(model).observe(seconds)


observe_batches(_observe_batch)


def refresh_model_gauges() -> None:
    """This process's queue depths and model states, read from the registry (never loads a model)."""
    registry = serving.get_registry()
    for status in registry.statuses():
        for state in ModelState:
            MODEL_STATE.labels(status.name, state.value).set(1 if status.state == state else 0)
        QUEUE_DEPTH.labels(status.name).set(registry.queue_depth(status.name))


class MetricsMiddleware:
    """Counts and times every request; refreshes the model gauges as it goes (cheap: a few models)."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match is not None else "unmatched"
        LATENCY.labels(view).observe(time.perf_counter() - started)
        REQUESTS.labels(view, request.method or "", str(response.status_code)).inc()
        if response.status_code in REFUSAL_STATUSES:
            REFUSALS.labels(str(response.status_code)).inc()
        refresh_model_gauges()
        return response


def metrics_allowed(request: HttpRequest) -> bool:
    token = settings.IMGREC_METRICS_TOKEN
    offered = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(offered.encode(), f"Bearer {token}".encode()):
        return True
    forwarded_unseen = not settings.IMGREC_CLIENT_IP_HEADER and any(h in request.META for h in FORWARDING_HEADERS)
    return not forwarded_unseen and client_ip(request) in settings.IMGREC_METRICS_ALLOW


@require_safe
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        return HttpResponse(
            "Expected a client in IMGREC_METRICS_ALLOW or an Authorization: Bearer IMGREC_METRICS_TOKEN header. "
            "Received neither\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    refresh_model_gauges()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
