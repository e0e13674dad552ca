"""Middleware for hostile requests and security headers.

`UploadLimitMiddleware` sits before CsrfViewMiddleware, which reads request.POST: it parses the
body first (with our capped upload handler) so that a body over the cap, a second file or a broken
multipart envelope is answered with our own 4xx and message, not a CSRF 403 or a generic 400.
`ContentSecurityPolicyMiddleware` adds the one header Django 5.2 has no setting for.
`NodeNameMiddleware`, outermost, names the app node that answered (X-Imgrec-Node) on every response.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from recognizer.inference.errors import RecognizerError
from recognizer.ops.responses import error_response
from recognizer.ops.uploads import (
    ENVELOPE_BYTES,
    declared_length,
    is_job_upload,
    job_upload,
    job_upload_too_large,
    multipart_upload,
    upload_too_large,
)

Handler = Callable[[HttpRequest], HttpResponse]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
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
        declared = declared_length(request)
        if is_job_upload(request):
            return UploadLimitMiddleware._job_body_error(request, declared)
        if declared > settings.IMGREC_MAX_UPLOAD_BYTES + ENVELOPE_BYTES:
            return upload_too_large(declared)  # refused before a byte of the body is read
        if not request.content_type.startswith("multipart/"):
            return None
        try:
            multipart_upload(request)  # parse now, through CappedMemoryUploadHandler
        except RecognizerError as error:
            return error
        return None

    @staticmethod
    def _job_body_error(request: HttpRequest, declared: int) -> RecognizerError | None:
        """A batch job's upload: many files, streamed to disk, under the archive's cap (IMGREC_ARCHIVE_MAX_MB)."""
        if declared > settings.IMGREC_ARCHIVE_MAX_MB * 1024 * 1024 + ENVELOPE_BYTES:
            return job_upload_too_large(declared)
        if not request.content_type.startswith("multipart/"):
            return None
        try:
            job_upload(request)
        except RecognizerError as error:
            return error
        return None


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


class NodeNameMiddleware:
    """`X-Imgrec-Node: IMGREC_NODE_NAME` on every response, so a balanced request can be traced to its node."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response["X-Imgrec-Node"] = settings.IMGREC_NODE_NAME
        return response
