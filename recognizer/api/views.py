"""The JSON API: plain Django views; their OpenAPI document is api/openapi.py.

No session, cookie or CSRF token is needed (the views are csrf_exempt). Only a classification
sent by our own upload page, with the CSRF token of its form, is filed in that browser's history,
as the plain form post would be (`page_session_key`). Every error is `{"error": "..."}` with the
status the RecognizerError carries (ops/responses.py).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from recognizer import serving
from recognizer.api.openapi import openapi_document
from recognizer.api.requests import page_session_key, parse_top_k, read_image_request
from recognizer.history.cache import classify_with_history
from recognizer.inference.errors import MethodNotAllowed, ModelNotReady
from recognizer.ops.ratelimit import rate_limit
from recognizer.ops.responses import handles_errors

JsonView = Callable[..., HttpResponse]


def json_endpoint(*methods: str) -> Callable[[JsonView], JsonView]:
    """CSRF-exempt, method-checked, and every RecognizerError answered as JSON."""

    def decorate(view: JsonView) -> JsonView:
        @csrf_exempt
        @wraps(view)
        @handles_errors()
        def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            if request.method not in methods:
                raise MethodNotAllowed(
                    f"Expected {' or '.join(methods)} on {request.path}. Received {request.method}", allowed=methods
                )
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


@json_endpoint("GET")
def models(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"models": [status.as_dict() for status in serving.get_registry().statuses()]})


@rate_limit("classify")
@json_endpoint("POST")
def classify(request: HttpRequest) -> JsonResponse:
    registry = serving.get_registry()
    image_bytes, fields = read_image_request(request)
    top_k = parse_top_k(fields)
    model_name = fields.get("model") or registry.default_model_name()
    if model_name is None:
        raise ModelNotReady("Expected at least one usable model. Received none: every model failed to load")
    entry = classify_with_history(
        pipeline=serving.get_pipeline(),
        image_bytes=image_bytes,
        model_name=model_name,
        top_k=top_k,
        session_key=page_session_key(request),
    )
    return JsonResponse(
        {
            "model": entry.model,
            "predictions": entry.predictions,
            "timings_ms": entry.timings_ms,
            "cached": entry.cached,
            "permalink": reverse("recognizer:permalink", args=[entry.id]),
        }
    )


@rate_limit("classify")
@json_endpoint("POST")
def compare(request: HttpRequest) -> JsonResponse:
    image_bytes, fields = read_image_request(request)
    comparison = serving.get_pipeline().compare(image_bytes=image_bytes, top_k=parse_top_k(fields))
    return JsonResponse(comparison.as_dict())


@json_endpoint("GET")
def openapi_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(openapi_document(model_names=serving.get_registry().names))
