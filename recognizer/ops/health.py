"""Probes for a load balancer or orchestrator: /healthz (the process answers) and /readyz (every
enabled model is loaded and warm, with a live inference worker). Neither loads a model: readiness comes
from the preload. A model whose worker died is `failed` with the reason until it is restarted; its
`restarts` count stays in the answer."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from recognizer import serving
from recognizer.inference.registry import ModelState


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "alive"})


@require_safe
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    statuses = serving.get_registry().statuses()
    ready = all(status.state == ModelState.READY for status in statuses)
    return JsonResponse(
        {"ready": ready, "models": [status.as_dict() for status in statuses]}, status=200 if ready else 503
    )
