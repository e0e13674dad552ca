"""Training a custom model through the API: `POST /api/v1/custom-models` (create, `create`) and
`POST /api/v1/custom-models/{name}/train` (start over, `train_again`). Documented in api/openapi_custom.py.

The creator gets a token once, in the 202 answer; only its SHA-256 is stored. It goes in
`Authorization: Bearer <token>` on every later call about the model. The archive streams to a temporary
file under IMGREC_ARCHIVE_MAX_MB, as a batch job's does.
"""

from __future__ import annotations

import secrets

from django.http import HttpRequest, JsonResponse

from recognizer.api.requests import api_requester, page_session_key, parse_public
from recognizer.api.views import json_endpoint
from recognizer.custom import lifecycle, services
from recognizer.custom.access import find_owned
from recognizer.custom.models import CustomModel
from recognizer.custom.uploads import photos_from_zip_upload
from recognizer.inference.errors import InvalidInput, shown
from recognizer.ops.ratelimit import rate_limit
from recognizer.ops.uploads import job_upload

COLLECTION_PATH = "/api/v1/custom-models"


def model_url(name: str) -> str:
    """The model's API URL (`GET`/`DELETE`, served by api/custom_models.py)."""
    return f"{COLLECTION_PATH}/{name}"


@rate_limit("classify")
@json_endpoint("POST")
def create(request: HttpRequest) -> JsonResponse:
    if not (request.content_type or "").startswith("multipart/"):
        raise InvalidInput(
            "Expected multipart/form-data with 'name', 'backbone', 'public' and a .zip in 'archive'. "
            f"Received Content-Type {shown(request.content_type or 'none')}"
        )
    fields, files = job_upload(request)
    archive = files.get("archive")
    try:
        name = fields.get("name", "")
        public = parse_public(fields.get("public", ""))
        backbone = services.checked_backbone(fields.get("backbone") or services.DEFAULT_BACKBONE)
        lifecycle.check_new_name(name)  # before the zip is read: a taken name costs no decompression
        if archive is None:
            received = ", ".join(sorted(shown(key, limit=40) for key in files)) or "no file"
            raise InvalidInput(
                f"Expected a .zip of one folder per class in the multipart field 'archive'. Received {received}"
            )
        photos = photos_from_zip_upload(archive)
    finally:
        for field in files:
            for upload in files.getlist(field):
                upload.close()  # a temporary upload file is deleted when closed
    token = secrets.token_urlsafe(32)
    model = services.create_custom_model(
        name=name,
        backbone=backbone,
        photos=photos,
        public=public,
        session_key=page_session_key(request),
        token_sha256=CustomModel.hash_token(token),
    )
    answer = {"name": model.name, "token": token, "job": str(model.id), "state": model.state,
              "status_url": model_url(model.name)}  # fmt: skip
    response = JsonResponse(answer, status=202)
    response["Location"] = answer["status_url"]
    return response


@rate_limit("classify")
@json_endpoint("POST")
def train_again(request: HttpRequest, name: str) -> JsonResponse:
    model = find_owned(name, api_requester(request))
    model = services.train_again(model)
    answer = {"name": model.name, "job": str(model.id), "state": model.state, "status_url": model_url(model.name)}
    response = JsonResponse(answer, status=202)
    response["Location"] = answer["status_url"]
    return response
