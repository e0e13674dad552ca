"""The custom-models API: list, describe, delete, make public, download, upload.

Each request says who it is (custom/access.py via `api_requester`): a bearer token, or the browser session
on reads and on our own page's requests. A model that is not the requester's (nor public, for reads) is a
404 with the words of a name that does not exist. Creating a model by training is part B's view
(`recognizer.api.custom_training.create`), reached through `collection` on POST.
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse

from recognizer import serving
from recognizer.api import custom_training
from recognizer.api.requests import api_requester, parse_public
from recognizer.api.views import json_endpoint
from recognizer.custom.access import find_owned, find_visible, visible
from recognizer.custom.lifecycle import custom_model_as_dict, delete_custom_model, set_public
from recognizer.custom.transfer import download_response, import_zip
from recognizer.inference.errors import InvalidInput, shown
from recognizer.ops.uploads import multipart_upload


@json_endpoint("GET", "POST")
def collection(request: HttpRequest) -> HttpResponse:
    """GET: the requester's visible custom models. POST: create one by training it
    (`recognizer.api.custom_training.create`, rate-limited there)."""
    if request.method == "POST":
        return custom_training.create(request)
    requester = api_requester(request)
    models = visible(requester).defer("head")
    return JsonResponse({"custom_models": [custom_model_as_dict(model, requester=requester) for model in models]})


@json_endpoint("GET", "DELETE", "PATCH")
def detail(request: HttpRequest, name: str) -> HttpResponse:
    requester = api_requester(request)
    if request.method in ("GET", "HEAD"):
        return JsonResponse(custom_model_as_dict(find_visible(name, requester), requester=requester))
    model = find_owned(name, requester)
    if request.method == "DELETE":
        delete_custom_model(model)
        return HttpResponse(status=204)
    try:
        changes = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput('Expected a JSON body such as {"public": true}. Received one that is not JSON') from None
    if not isinstance(changes, dict) or set(changes) != {"public"}:
        received = sorted(changes) if isinstance(changes, dict) else type(changes).__name__
        raise InvalidInput(f'Expected a JSON body such as {{"public": true}}. Received {shown(received, limit=80)}')
    set_public(model, public=parse_public(changes["public"]))
    return JsonResponse(custom_model_as_dict(model, requester=requester))


@json_endpoint("GET")
def download(request: HttpRequest, name: str) -> HttpResponse:
    return download_response(find_owned(name, api_requester(request)))


@json_endpoint("POST")
def upload(request: HttpRequest) -> HttpResponse:
    """A downloaded zip made a custom model again (here or on another server), owned by a new token."""
    if request.content_type != "multipart/form-data":
        raise InvalidInput(
            "Expected multipart/form-data with the zip in 'file', 'name' and optionally 'public'. "
            f"Received Content-Type {shown(request.content_type or 'none')}"
        )
    data, file = multipart_upload(request, field="file")
    if file is None:
        raise InvalidInput(f"Expected the zip in the multipart field 'file'. Received fields: {sorted(data)[:10]}")
    uploaded = import_zip(
        file.read(),
        name=data.get("name", ""),
        public=parse_public(data.get("public", "")),
        registry=serving.get_registry(),
    )
    answer = {**custom_model_as_dict(uploaded.model, requester=api_requester(request)), "owned": True}
    response = JsonResponse({**answer, "token": uploaded.token}, status=201)
    response["Location"] = f"/api/v1/custom-models/{uploaded.model.name}"
    return response
