"""Middleware for hostile requests and security headers.

`UploadLimitMiddleware` sits before CsrfViewMiddleware, which reads request.POST: it parses the
body first (with our capped upload handler) so that a body over the cap, a second file or a broken
multipart envelope is answered with our own 4xx and message, not a CSRF 403 or a generic 400.
`ContentSecurityPolicyMiddleware` adds the one header Django 5.2 has no setting for.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render

from recognizer.errors import ImageTooLarge, InvalidInput, RecognizerError
from recognizer.uploads import ENVELOPE_BYTES

Handler = Callable[[HttpRequest], HttpResponse]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def error_response(request: HttpRequest, error: RecognizerError) -> HttpResponse:
    """JSON `{"error": ...}` for the API, else the error page for the status (templates/<status>.html)."""
    if request.path.startswith("/api/"):
        return JsonResponse({"error": str(error)}, status=error.status)
    return render(request, f"{error.status}.html", {"error": error}, status=error.status)


def too_large(received_bytes: int) -> ImageTooLarge:
    return ImageTooLarge(
        f"Expected an upload of at most {settings.IMGREC_MAX_UPLOAD_MB} MB. "
        f"Received {received_bytes / 1024 / 1024:.1f} MB or more"
    )


class UploadLimitMiddleware:
    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST":
            error = self._body_error(request)
            if error is not None:
                return error_response(request, error)
        return self.get_response(request)

    @staticmethod
    def _body_error(request: HttpRequest) -> RecognizerError | None:
        declared = _content_length(request)
        if declared > settings.IMGREC_MAX_UPLOAD_BYTES + ENVELOPE_BYTES:
            return too_large(declared)  # refused before a byte of the body is read
        if not request.content_type.startswith("multipart/"):
            return None
        try:
            request.FILES  # noqa: B018 -- parse now, through CappedMemoryUploadHandler
        except RequestDataTooBig:
            return ImageTooLarge("Expected form fields under 1 MB besides the image. Received more")
        except MultiPartParserError as error:
            return InvalidInput(f"Expected a multipart/form-data body. Received one that could not be parsed: {error}")
        if getattr(request, "upload_too_large", None):
            return too_large(request.upload_too_large)
        if getattr(request, "upload_too_many_files", False):
            return InvalidInput("Expected one image file per request. Received more than one")
        return None


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response
