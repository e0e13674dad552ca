"""The custom-models part of the OpenAPI document (api/openapi.py includes it); the views are
api/custom_models.py. Creating one by training (POST /api/v1/custom-models) is documented with it."""

from __future__ import annotations

from typing import Any

from recognizer.api.openapi_parts import error_responses, json_response, ref
from recognizer.custom.access import NAME_PATTERN
from recognizer.custom.models import CustomModel

CUSTOM_STATES = [state for state, _ in CustomModel.STATES]
NAME_SCHEMA = {"type": "string", "pattern": f"^{NAME_PATTERN.pattern}$"}

_ERRORS = {
    "400": "A field is missing or malformed, or the upload is not a model zip of this server's backbone "
    "(the message says what was expected and what arrived)",
    "404": "No custom model of this name that the requester may see (or, to change it, owns)",
    "405": "Wrong HTTP method",
    "409": "The name is a catalogue model's or another custom model's",
    "413": "The upload is over IMGREC_MAX_UPLOAD_MB",
}

BEARER = [{}, {"bearerToken": []}]


def _errors(*statuses: str) -> dict[str, Any]:
    return error_responses(_ERRORS, *statuses)


def model_name_schema(model_names: list[str]) -> dict[str, Any]:
    """A catalogue model, or the name of a custom model the requester may see (`Authorization: Bearer`)."""
    return {
        "anyOf": [
            {"type": "string", "enum": model_names},
            {**NAME_SCHEMA, "description": "A custom model of yours (send its token) or a public one"},
        ]
    }


_NAME_PARAMETER = {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 200}}


def custom_model_paths() -> dict[str, Any]:
    return {
        "/api/v1/custom-models": {
            "get": {
                "operationId": "listCustomModels",
                "summary": "The custom models the requester may see: their own (bearer token or browser session) "
                "and the public ones",
                "security": BEARER,
                "responses": {
                    "200": json_response(
                        {
                            "type": "object",
                            "required": ["custom_models"],
                            "properties": {"custom_models": {"type": "array", "items": ref("CustomModel")}},
                        },
                        "Newest first",
                    ),
                    **_errors("400", "405"),
                },
            }
        },
        "/api/v1/custom-models/upload": {
            "post": {
                "operationId": "uploadCustomModel",
                "summary": "A downloaded custom model's zip made a model again (here or on another server with "
                "the same backbone weights); 201 with a new token, the only way to use it while it is private",
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["file", "name"],
                                "properties": {
                                    "file": {
                                        "type": "string",
                                        "format": "binary",
                                        "description": "The zip: model.keras, labels.json, backbone.json",
                                    },
                                    "name": NAME_SCHEMA,
                                    "public": {"type": "string", "enum": ["true", "false"], "default": "false"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "201": json_response(
                        {
                            "allOf": [ref("CustomModel")],
                            "required": ["token"],
                            "properties": {"token": {"type": "string"}},
                        },
                        "Created; send `Authorization: Bearer <token>` on every later call about it",
                    ),
                    **_errors("400", "405", "409", "413"),
                },
            }
        },
        "/api/v1/custom-models/{name}": {
            "get": {
                "operationId": "getCustomModel",
                "parameters": [_NAME_PARAMETER],
                "summary": "One custom model: classes, state, validation figures",
                "security": BEARER,
                "responses": {"200": json_response(ref("CustomModel"), "The model"), **_errors("400", "404", "405")},
            },
            "patch": {
                "operationId": "changeCustomModel",
                "parameters": [_NAME_PARAMETER],
                "summary": "Make a custom model public or private again (its owner only)",
                "security": BEARER,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["public"],
                                "properties": {"public": {"type": "boolean"}},
                            }
                        }
                    },
                },
                "responses": {"200": json_response(ref("CustomModel"), "Changed"), **_errors("400", "404", "405")},
            },
            "delete": {
                "operationId": "deleteCustomModel",
                "parameters": [_NAME_PARAMETER],
                "summary": "Delete a custom model (its owner only; a public one too)",
                "security": BEARER,
                "responses": {"204": {"description": "Deleted"}, **_errors("400", "404", "405")},
            },
        },
        "/api/v1/custom-models/{name}/download": {
            "get": {
                "operationId": "downloadCustomModel",
                "parameters": [_NAME_PARAMETER],
                "summary": "A ready custom model as a zip (its owner only): model.keras (the head), labels.json, "
                "backbone.json (name and weights fingerprint)",
                "security": BEARER,
                "responses": {
                    "200": {
                        "description": "The zip",
                        "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    **_errors("400", "404", "405"),
                },
            },
        },
    }


def custom_model_schemas() -> dict[str, Any]:
    return {
        "CustomModel": {
            "type": "object",
            "required": ["name", "kind", "backbone", "classes", "state", "public", "owned", "validation", "created_at"],
            "properties": {
                "name": {"type": "string"},
                "kind": {"type": "string", "enum": ["custom"]},
                "backbone": {"type": "string"},
                "classes": {"type": "array", "items": {"type": "string"}},
                "state": {"type": "string", "enum": CUSTOM_STATES},
                "stage": {"type": "string"},
                "reason": {"type": "string", "description": "Why training failed"},
                "public": {"type": "boolean"},
                "owned": {"type": "boolean", "description": "The requester may delete, download and change it"},
                "validation": {
                    "type": "object",
                    "required": ["accuracy", "per_class"],
                    "properties": {
                        "accuracy": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
                        "per_class": {
                            "type": "object",
                            "additionalProperties": {
                                "type": "object",
                                "properties": {
                                    "precision": {"type": "number"},
                                    "recall": {"type": "number"},
                                    "support": {"type": "integer"},
                                },
                            },
                        },
                    },
                },
                "class_balance": {"type": "object", "additionalProperties": {"type": "integer"}},
                "facts": {"type": "object"},
                "created_at": {"type": "string", "format": "date-time"},
                "finished_at": {"type": ["string", "null"], "format": "date-time"},
            },
        }
    }


SECURITY_SCHEMES = {
    "bearerToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The token returned when the custom model was created or uploaded",
    }
}
