"""Django's own error views (400, 403, 404, 500 and the CSRF failure), JSON `{"error"}` under /api/.

Django answers some failures before any of our views runs: a URL nothing matches, a request its
parsers refuse (TooManyFieldsSent: more than DATA_UPLOAD_MAX_NUMBER_FIELDS fields), a CSRF failure,
an uncaught exception. Under /api/ a client gets JSON like every other API error; pages keep
`templates/<status>.html`. Wired in imgrec_site/urls.py (handler400 ...) and CSRF_FAILURE_VIEW.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import csrf, defaults

from recognizer.inference.errors import shown
from recognizer.ops.responses import API_PREFIX


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def _json(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return _json(f"Expected a well-formed request. Received one that was refused ({type(exception).__name__})", 400)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return _json("Expected a request this client may make. Received one it may not", 403)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return _json(
            f"Expected one of the API's paths (listed in /api/v1/openapi.json). Received {shown(request.path)}", 404
        )
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return _json("Expected to answer this request. Received an internal error (logged on the server)", 500)
    return defaults.server_error(request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if _is_api(request):
        return _json(f"Expected the CSRF token of this site's own form. Received a request without it ({reason})", 403)
    return csrf.csrf_failure(request, reason)
