"""The training part of the OpenAPI document (api/openapi.py includes it); the views are api/custom_training.py.
The rest of the custom models' API (list, get, delete) is documented beside its own views."""

from __future__ import annotations

from typing import Any

from recognizer.api.openapi_custom import CUSTOM_STATES
from recognizer.api.openapi_parts import error_responses, json_response, ref
from recognizer.custom.access import NAME_PATTERN
from recognizer.custom.services import BACKBONES, DEFAULT_BACKBONE

_ERRORS = {
    "400": "A field is missing or malformed, the archive is damaged, or the photos cannot make a training set "
    "(fewer than 2 classes or 5 photos a class, files at the top level, nested or empty folders, non-images, "
    "the same photo in two classes): the message says what was expected and what arrived",
    "404": "No custom model of that name that the requester owns (Bearer token or browser session)",
    "405": "Wrong HTTP method",
    "409": "The name is a pretrained model's or another custom model's; or, to train again, the model is ready",
    "413": "The upload, the archive, or the number of classes or photos is over a limit",
    "415": "The archive is not a .zip, or the body is not multipart/form-data",
    "429": "Too many requests from this client (IMGREC_RATE_LIMIT); retry after Retry-After seconds",
}


def _accepted(schema: str, description: str) -> dict[str, Any]:
    return {
        **json_response(ref(schema), description),
        "headers": {"Location": {"description": "The model's URL", "schema": {"type": "string"}}},
    }


def _errors(*statuses: str) -> dict[str, Any]:
    return error_responses(_ERRORS, *statuses)


def custom_training_paths() -> dict[str, Any]:
    create_fields = {
        "name": {"type": "string", "pattern": f"^{NAME_PATTERN.pattern}$", "description": "Unique on the server"},
        "backbone": {"type": "string", "enum": list(BACKBONES), "default": DEFAULT_BACKBONE},
        "archive": {
            "type": "string",
            "format": "binary",
            "description": "A .zip with one folder of photos per class (one folder around them all is allowed)",
        },
        "public": {"type": "string", "enum": ["true", "false"], "default": "false"},
    }
    return {
        "/api/v1/custom-models": {
            "post": {
                "operationId": "createCustomModel",
                "summary": "Train a custom model on your classes: a head on a frozen backbone, by a worker",
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {"type": "object", "required": ["name", "archive"], "properties": create_fields}
                        }
                    },
                },
                "responses": {
                    "202": _accepted("CustomModelCreated", "Stored and queued; the token is given only here"),
                    **_errors("400", "405", "409", "413", "415", "429"),
                },
            }
        },
        "/api/v1/custom-models/{name}/train": {
            "post": {
                "operationId": "trainCustomModelAgain",
                "summary": "Start a failed or stopped training over from the stored photos (owner only)",
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                    {
                        "name": "Authorization",
                        "in": "header",
                        "required": False,
                        "description": "Bearer <the token returned at creation>",
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {
                    "202": _accepted("CustomModelTraining", "Queued again"),
                    "400": json_response(ref("Error"), "The Authorization header is not of the form 'Bearer <token>'"),
                    **_errors("404", "405", "409", "429"),
                },
            }
        },
    }


def custom_training_schemas() -> dict[str, Any]:
    training = {
        "name": {"type": "string"},
        "job": {"type": "string", "format": "uuid", "description": "The model's id"},
        "state": {"type": "string", "enum": CUSTOM_STATES},
        "status_url": {"type": "string", "description": "The model's URL: state, progress, validation"},
    }
    return {
        "CustomModelCreated": {
            "type": "object",
            "required": ["name", "token", "job", "state", "status_url"],
            "properties": {
                **training,
                "token": {"type": "string", "description": "For `Authorization: Bearer <token>`; shown only once"},
            },
        },
        "CustomModelTraining": {"type": "object", "required": list(training), "properties": training},
    }
