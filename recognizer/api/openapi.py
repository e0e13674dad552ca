"""The OpenAPI 3.1 document of the JSON API, kept beside the views in api/views.py.

It is built per request from the registry, so `model` lists exactly the models this server enables.
"""

from __future__ import annotations

from typing import Any

from recognizer.api.openapi_jobs import job_paths, job_schemas
from recognizer.inference.imaging import ACCEPTED_DESCRIPTION
from recognizer.inference.pipeline import DEFAULT_TOP_K, MAX_TOP_K

IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp")

ERROR_STATUSES = {
    "400": "A field is missing or malformed (the message says what was expected and what arrived)",
    "404": "Unknown model",
    "405": "Wrong HTTP method",
    "413": "The upload or its pixel count is over the limit",
    "415": f"Not a supported image ({ACCEPTED_DESCRIPTION}) or not a multipart/image request",
    "429": "Too many requests from this client (IMGREC_RATE_LIMIT); retry after Retry-After seconds",
    "503": "The model is not ready (loading, or weights missing) or its queue is full; retry after Retry-After",
    "500": "The model failed while running this request's batch (the server's fault; the model keeps serving)",
    "504": "No result within IMGREC_TIMEOUT_S",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: str) -> dict[str, Any]:
    responses = {status: _json(_ref("Error"), ERROR_STATUSES[status]) for status in statuses}
    for status in ("429", "503"):
        if status in responses:
            responses[status]["headers"] = {
                "Retry-After": {"description": "Seconds to wait", "schema": {"type": "string", "pattern": "^[0-9]+$"}}
            }
    return responses


def _image_request(model_names: list[str], *, with_model: bool) -> dict[str, Any]:
    multipart_fields: dict[str, Any] = {
        "image": {"type": "string", "format": "binary", "description": ACCEPTED_DESCRIPTION},
        "top_k": {"type": "integer", "minimum": 1, "maximum": MAX_TOP_K, "default": DEFAULT_TOP_K},
    }
    if with_model:
        multipart_fields["model"] = {"type": "string", "enum": model_names}
    raw = {"schema": {"type": "string", "format": "binary"}}
    return {
        "required": True,
        "description": "A multipart form with the file in `image`, or the image itself as the body.",
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "required": ["image"], "properties": multipart_fields}
            },
            **{image_type: raw for image_type in IMAGE_TYPES},
        },
    }


def _query_parameters(model_names: list[str], *, with_model: bool) -> list[dict[str, Any]]:
    parameters = [
        {
            "name": "top_k",
            "in": "query",
            "required": False,
            "description": "How many classes to return (a multipart `top_k` field takes precedence)",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_TOP_K, "default": DEFAULT_TOP_K},
        }
    ]
    if with_model:
        parameters.insert(
            0,
            {
                "name": "model",
                "in": "query",
                "required": False,
                "description": "Model name (a multipart `model` field takes precedence); default: resnet50 "
                "if it can be used, else the first model that can",
                "schema": {"type": "string", "enum": model_names},
            },
        )
    return parameters


def _schemas() -> dict[str, Any]:
    prediction = {
        "type": "object",
        "required": ["label", "class_id", "index", "score"],
        "properties": {
            "label": {"type": "string", "examples": ["tabby"]},
            "class_id": {"type": "string", "pattern": "^n[0-9]{8}$", "examples": ["n02123045"]},
            "index": {"type": "integer", "minimum": 0, "maximum": 999},
            "score": {"type": "number", "minimum": 0, "maximum": 1},
        },
    }
    timings = {
        "type": "object",
        "required": ["decode", "preprocess", "inference", "total"],
        "properties": {
            stage: {"type": "number", "minimum": 0} for stage in ("decode", "preprocess", "queue", "inference", "total")
        },
    }
    predictions = {"type": "array", "items": _ref("Prediction"), "description": "Highest score first"}
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string", "description": "What was expected and what arrived"}},
        },
        "Prediction": prediction,
        "Timings": timings,
        "ModelStatus": {
            "type": "object",
            "required": ["name", "label", "input_size", "state", "reason", "weights", "kind", "restarts"],
            "properties": {
                "name": {"type": "string"},
                "label": {"type": "string"},
                "input_size": {"type": "integer"},
                "state": {"type": "string", "enum": ["pending", "loading", "ready", "failed"]},
                "reason": {"type": "string"},
                "weights": {"type": "string", "enum": ["imagenet", "random", "bundled"]},
                "kind": {"type": "string", "enum": ["imagenet"], "description": "Whose label space: ImageNet-1k"},
                "restarts": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "How often this model's inference worker died and was started again",
                },
            },
        },
        "Classification": {
            "type": "object",
            "required": ["model", "predictions", "timings_ms", "cached", "permalink"],
            "properties": {
                "model": {"type": "string"},
                "predictions": predictions,
                "timings_ms": _ref("Timings"),
                "cached": {
                    "type": "boolean",
                    "description": "True when the same image, model and top_k were answered before: "
                    "the stored result is returned and no inference ran",
                },
                "permalink": {"type": "string", "description": "Path of the result page, /r/<uuid>/"},
            },
        },
        "Comparison": {
            "type": "object",
            "required": ["models", "ensemble", "agreement", "skipped", "timings_ms"],
            "properties": {
                "models": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["model", "label", "predictions", "timings_ms"],
                        "properties": {
                            "model": {"type": "string"},
                            "label": {"type": "string"},
                            "predictions": predictions,
                            "timings_ms": {
                                "type": "object",
                                "required": ["preprocess", "inference"],
                                "properties": {"preprocess": {"type": "number"}, "inference": {"type": "number"}},
                            },
                        },
                    },
                },
                "ensemble": {
                    "type": "object",
                    "description": "Top k of the mean of the models' probability vectors",
                    "required": ["predictions"],
                    "properties": {"predictions": predictions},
                },
                "agreement": {
                    "type": "object",
                    "required": ["same_top1", "shared_top_k", "pairwise_overlap"],
                    "properties": {
                        "same_top1": {"type": "boolean"},
                        "shared_top_k": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "Class ids in every model's top k",
                        },
                        "pairwise_overlap": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["models", "shared"],
                                "properties": {
                                    "models": {"type": "array", "items": {"type": "string"}},
                                    "shared": {"type": "integer", "minimum": 0},
                                },
                            },
                        },
                    },
                },
                "skipped": {
                    "type": "array",
                    "description": "Models that could not run, with the reason",
                    "items": {
                        "type": "object",
                        "required": ["model", "reason"],
                        "properties": {"model": {"type": "string"}, "reason": {"type": "string"}},
                    },
                },
                "timings_ms": {
                    "type": "object",
                    "required": ["decode", "total"],
                    "properties": {"decode": {"type": "number"}, "total": {"type": "number"}},
                },
            },
        },
    }


def openapi_document(*, model_names: list[str]) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "imgrec API",
            "version": "1",
            "description": "Classify photos with ImageNet CNNs. No session, cookie or CSRF token is needed: "
            'every endpoint is a plain HTTP request. Errors are JSON {"error": "..."}.',
        },
        "paths": {
            "/api/v1/models": {
                "get": {
                    "operationId": "listModels",
                    "summary": "The enabled models and the state of each",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["models"],
                                "properties": {"models": {"type": "array", "items": _ref("ModelStatus")}},
                            },
                            "Every enabled model",
                        ),
                        **_errors("405"),
                    },
                }
            },
            "/api/v1/classify": {
                "post": {
                    "operationId": "classify",
                    "summary": "The top k ImageNet classes of one image, by one model",
                    "parameters": _query_parameters(model_names, with_model=True),
                    "requestBody": _image_request(model_names, with_model=True),
                    "responses": {
                        "200": _json(_ref("Classification"), "The predictions, highest score first"),
                        **_errors("400", "404", "405", "413", "415", "429", "500", "503", "504"),
                    },
                }
            },
            "/api/v1/compare": {
                "post": {
                    "operationId": "compare",
                    "summary": "Every ready model on one image, their ensemble and their agreement",
                    "parameters": _query_parameters(model_names, with_model=False),
                    "requestBody": _image_request(model_names, with_model=False),
                    "responses": {
                        "200": _json(_ref("Comparison"), "Per-model results, the ensemble and the agreement"),
                        **_errors("400", "405", "413", "415", "429", "500", "503", "504"),
                    },
                }
            },
            **job_paths(model_names),
        },
        "components": {"schemas": {**_schemas(), **job_schemas()}},
    }
