"""The JSON API: plain Django views; their OpenAPI document is recognizer/openapi.py.

No session, cookie or CSRF token is needed (the views are csrf_exempt). Only a classification
sent by our own upload page, with the CSRF token of its form, is filed in that browser's history,
as the plain form post would be (`page_session_key`). Every error is `{"error": "..."}` with the
status the RecognizerError carries.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from recognizer.comparison import compare_image
from recognizer.errors import InvalidInput, MethodNotAllowed, ModelNotReady, RecognizerError, UnsupportedImage
from recognizer.history import classify_with_history, session_key_of
from recognizer.imaging import ACCEPTED_DESCRIPTION
from recognizer.openapi import openapi_document
from recognizer.ratelimit import rate_limit
from recognizer.registry import get_registry
from recognizer.responses import json_error
from recognizer.services import DEFAULT_TOP_K, MAX_TOP_K
from recognizer.uploads import multipart_upload, read_capped_body

JsonView = Callable[[HttpRequest], JsonResponse]


def json_endpoint(*methods: str) -> Callable[[JsonView], Callable[[HttpRequest], JsonResponse]]:
    """CSRF-exempt, method-checked, and every RecognizerError answered as JSON."""

    def decorate(view: JsonView) -> Callable[[HttpRequest], JsonResponse]:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest) -> JsonResponse:
            try:
                if request.method not in methods:
                    raise MethodNotAllowed(
                        f"Expected {' or '.join(methods)} on {request.path}. Received {request.method}"
                    )
                return view(request)
            except RecognizerError as error:
                response = json_error(error)
                if isinstance(error, MethodNotAllowed):
                    response["Allow"] = ", ".join(methods)
                return response

        return wrapper

    return decorate


def read_image_request(request: HttpRequest) -> tuple[bytes, QueryDict]:
    """The image bytes and the fields (query string, overridden by multipart fields) of a request."""
    content_type = request.content_type or ""
    if content_type == "multipart/form-data":
        data, file = multipart_upload(request)
        if file is None:
            raise InvalidInput(
                f"Expected an image file in the multipart field 'image'. Received fields: "
                f"{', '.join(sorted(set(data) | set(request.FILES))) or 'none'}"
            )
        fields = request.GET.copy()
        fields.update({name: data[name] for name in ("model", "top_k") if name in data})
        return file.read(), fields
    if content_type.startswith("image/"):
        return read_capped_body(request), request.GET
    raise UnsupportedImage(
        "Expected multipart/form-data with the file in 'image', or an image body with an image/* Content-Type "
        f"({ACCEPTED_DESCRIPTION}). Received {f'Content-Type {content_type!r}' if content_type else 'no Content-Type'}"
    )


def parse_top_k(fields: QueryDict) -> int:
    value = fields.get("top_k", "")
    if value == "":
        return DEFAULT_TOP_K
    top_k = int(value) if re.fullmatch(r"[0-9]{1,3}", value) else 0
    if not 1 <= top_k <= MAX_TOP_K:
        raise InvalidInput(f"Expected top_k to be a whole number from 1 to {MAX_TOP_K}. Received {value!r}")
    return top_k


@json_endpoint("GET")
def models(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"models": [status.as_dict() for status in get_registry().statuses()]})


def page_session_key(request: HttpRequest) -> str:
    """The browser session of a request from our own page (same origin, its form's CSRF token), else ''.

    The enhanced upload form (static/recognizer/upload.js) posts here; its results belong in that
    browser's history like the plain form's. Any other client stays sessionless.
    """
    if "csrfmiddlewaretoken" not in request.POST and "HTTP_X_CSRFTOKEN" not in request.META:
        return ""
    if CsrfViewMiddleware(lambda _: HttpResponse()).process_view(request, None, (), {}) is not None:
        return ""
    return session_key_of(request, create=True) or ""


@rate_limit("classify")
@json_endpoint("POST")
def classify(request: HttpRequest) -> JsonResponse:
    registry = get_registry()
    image_bytes, fields = read_image_request(request)
    top_k = parse_top_k(fields)
    model_name = fields.get("model") or registry.default_model_name()
    if model_name is None:
        raise ModelNotReady("Expected at least one usable model. Received none: every model failed to load")
    entry = classify_with_history(
        image_bytes=image_bytes,
        model_name=model_name,
        top_k=top_k,
        max_pixels=settings.IMGREC_MAX_PIXELS,
        session_key=page_session_key(request),
        registry=registry,
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
    comparison = compare_image(
        image_bytes=image_bytes,
        top_k=parse_top_k(fields),
        max_pixels=settings.IMGREC_MAX_PIXELS,
        registry=get_registry(),
    )
    return JsonResponse(comparison.as_dict())


@json_endpoint("GET")
def openapi_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(openapi_document(model_names=get_registry().names))


def docs(request: HttpRequest) -> HttpResponse:
    """A server-rendered page generated from the OpenAPI document (no CDN, no JavaScript)."""
    document = openapi_document(model_names=get_registry().names)
    return render(request, "recognizer/api_docs.html", {"document": document, "operations": operations(document)})


def operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Flatten the document's paths into what the docs page lists, one entry per method and path."""
    listed = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            body = operation.get("requestBody", {}).get("content", {})
            form = body.get("multipart/form-data", {}).get("schema", {}).get("properties", {})
            listed.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": operation["summary"],
                    "parameters": operation.get("parameters", []),
                    "form_fields": [
                        {"name": name, "schema": schema, "required": name in ("image",)}
                        for name, schema in form.items()
                    ],
                    "content_types": list(body),
                    "responses": [
                        {"status": status, "description": response["description"]}
                        for status, response in operation["responses"].items()
                    ],
                }
            )
    return listed
