"""The one place a RecognizerError becomes an HTTP answer.

Under /api/ it is JSON `{"error": message}`; elsewhere the error page `templates/<status>.html`.
Either way with the error's status, and `Retry-After` when the error says when to come back.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from recognizer.errors import RecognizerError

API_PREFIX = "/api/"


def json_error(error: RecognizerError) -> JsonResponse:
    return with_retry_after(JsonResponse({"error": str(error)}, status=error.status), error)


def error_response(request: HttpRequest, error: RecognizerError) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return json_error(error)
    return with_retry_after(render(request, f"{error.status}.html", {"error": error}, status=error.status), error)


def with_retry_after(response: HttpResponse, error: RecognizerError) -> HttpResponse:
    if error.retry_after_s is not None:
        response["Retry-After"] = str(error.retry_after_s)
    return response
