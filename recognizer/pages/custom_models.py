"""This browser's custom models on the pages: download, delete, make public or private (About's "My models").

The owner on the pages is the browser session (custom/access.py); the forms post with the page's CSRF
token. Someone else's model is a 404 here too, as for a name that does not exist.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from recognizer.custom.access import Requester, find_owned
from recognizer.custom.lifecycle import delete_custom_model, set_public
from recognizer.custom.transfer import download_response
from recognizer.inference.errors import InvalidInput, shown
from recognizer.ops.responses import handles_errors


def _back_to_my_models() -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("recognizer:about") + "#my-models", status=303)


@require_safe
@handles_errors()
def download(request: HttpRequest, name: str) -> HttpResponse:
    return download_response(find_owned(name, Requester.from_request(request)))


@require_POST
@handles_errors()
def delete(request: HttpRequest, name: str) -> HttpResponse:
    delete_custom_model(find_owned(name, Requester.from_request(request)))
    return _back_to_my_models()


@require_POST
@handles_errors()
def publish(request: HttpRequest, name: str) -> HttpResponse:
    """`public=true` or `public=false`."""
    model = find_owned(name, Requester.from_request(request))
    value = request.POST.get("public", "")
    if value not in ("true", "false"):
        raise InvalidInput(f"Expected public to be true or false. Received {shown(value, limit=40)}")
    set_public(model, public=value == "true")
    return _back_to_my_models()
