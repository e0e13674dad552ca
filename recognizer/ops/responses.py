"""The one place a RecognizerError becomes an HTTP answer.

Under /api/ it is JSON `{"error": message}`; on a page, the page's own rendering of the error when
the view gives one (the upload form with the message above it), else `templates/<status>.html`.
Always with the error's status, `Retry-After` when the error says when to come back, and `Allow`
for a wrong method. Views raise; `handles_errors` and the middleware and decorators of ops/ answer.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from recognizer.inference.errors import MethodNotAllowed, RecognizerError

API_PREFIX = "/api/"

ErrorPage = Callable[[HttpRequest, RecognizerError], HttpResponse]
View = Callable[..., HttpResponse]


def error_response(request: HttpRequest, error: RecognizerError, *, page: ErrorPage | None = None) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        response: HttpResponse = JsonResponse({"error": str(error)})
    elif page is not None:
        response = page(request, error)
    else:
        response = render(request, f"{error.status}.html", {"error": error})
    response.status_code = error.status
    if error.retry_after_s is not None:
        response["Retry-After"] = str(error.retry_after_s)
    if isinstance(error, MethodNotAllowed):
        response["Allow"] = ", ".join(error.allowed)
    return response


def handles_errors(page: ErrorPage | None = None) -> Callable[[View], View]:
    """A view that raises RecognizerError is answered by `error_response` (with `page` on pages)."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            try:
                return view(request, *args, **kwargs)
            except RecognizerError as error:
                return error_response(request, error, page=page)

        return wrapped

    return decorate
