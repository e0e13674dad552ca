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
from recognizer.api.requests import api_requester, page_session_key, parse_explain, parse_top_k, read_image_request
from recognizer.custom.access import MAX_COMPARED_CUSTOM, comparable_custom_names, usable_model_name, visible
from recognizer.custom.lifecycle import custom_model_status
from recognizer.history.cache import classify_with_history
from recognizer.history.explain import explain_entry
from recognizer.inference.errors import InvalidInput, MethodNotAllowed, ModelNotReady, shown
from recognizer.inference.pipeline import rounded
from recognizer.ops.ratelimit import rate_limit
from recognizer.ops.responses import handles_errors

JsonView = Callable[..., HttpResponse]


def json_endpoint(*methods: str) -> Callable[[JsonView], JsonView]:
    """CSRF-exempt, method-checked, and every RecognizerError answered as JSON."""

    allowed = (*methods, "HEAD") if "GET" in methods else methods

    def decorate(view: JsonView) -> JsonView:
        @csrf_exempt
        @wraps(view)
        @handles_errors()
        def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            if request.method not in allowed:
                raise MethodNotAllowed(
                    f"Expected {' or '.join(allowed)} on {shown(request.path, quoted=False)}. "
                    f"Received {shown(request.method, limit=20, quoted=False)}",
                    allowed=allowed,
                )
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


@json_endpoint("GET")
def models(request: HttpRequest) -> JsonResponse:
    """The catalogue's models ("kind": "imagenet"), then the custom models the requester may see ("kind": "custom")."""
    catalogue = [status.as_dict() for status in serving.get_registry().statuses()]
    custom = [custom_model_status(model) for model in visible(api_requester(request)).defer("head")]
    return JsonResponse({"models": catalogue + custom})


@rate_limit("classify")
@json_endpoint("POST")
def classify(request: HttpRequest) -> JsonResponse:
    registry = serving.get_registry()
    image_bytes, fields = read_image_request(request)
    top_k = parse_top_k(fields)
    explain, class_index = parse_explain(fields)
    model_name = fields.get("model") or registry.default_model_name()
    if model_name is None:
        raise ModelNotReady("Expected at least one usable model. Received none: every model failed to load")
    model_name = usable_model_name(model_name, api_requester(request), registry)
    entry = classify_with_history(
        pipeline=serving.get_pipeline(),
        image_bytes=image_bytes,
        model_name=model_name,
        top_k=top_k,
        session_key=page_session_key(request),
    )
    answer: dict[str, object] = {
        "model": entry.model,
        "predictions": entry.predictions,
        "hedge": entry.hedge,
        "confidence": entry.confidence,
        "timings_ms": entry.timings_ms,
        "cached": entry.cached,
        "permalink": reverse("recognizer:permalink", args=[entry.id]),
    }
    if explain:
        explanation = explain_entry(pipeline=serving.get_pipeline(), entry=entry, class_index=class_index)
        answer["explanation"] = explanation.as_dict()
        answer["timings_ms"] = {**entry.timings_ms, **rounded(explanation.timings_ms)}
    return JsonResponse(answer)


@rate_limit("classify")
@json_endpoint("POST")
def compare(request: HttpRequest) -> JsonResponse:
    image_bytes, fields = read_image_request(request)
    top_k = parse_top_k(fields)
    explain, class_index = parse_explain(fields)
    if class_index is not None:
        raise InvalidInput(
            f"Expected no explain_class on compare (each model explains its own top-1). Received {class_index}"
        )
    pipeline = serving.get_pipeline()
    custom = comparable_custom_names(api_requester(request), limit=MAX_COMPARED_CUSTOM)
    comparison = pipeline.compare(image_bytes=image_bytes, top_k=top_k, custom=custom)
    answer = comparison.as_dict()
    if explain:
        explanations = pipeline.explain_comparison(comparison)
        for model_answer in answer["models"]:
            explanation = explanations[model_answer["model"]]
            model_answer["explanation"] = explanation.as_dict()
            model_answer["timings_ms"].update(rounded(explanation.timings_ms))
    return JsonResponse(answer)


@json_endpoint("GET")
def openapi_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(openapi_document(model_names=serving.get_registry().names))
