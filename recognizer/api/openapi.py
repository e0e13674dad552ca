"""The OpenAPI 3.1 document of the JSON API, kept beside the views in api/views.py.

It is built per request from the registry, so `model` lists exactly the models this server enables.
"""

from __future__ import annotations

from typing import Any

from recognizer.api.openapi_custom import (
    SECURITY_SCHEMES,
    custom_model_paths,
    custom_model_schemas,
    model_name_schema,
)
from recognizer.api.openapi_custom_training import custom_training_paths, custom_training_schemas
from recognizer.api.openapi_jobs import job_paths, job_schemas
from recognizer.api.openapi_parts import error_responses, json_response, ref
from recognizer.inference.imaging import ACCEPTED_DESCRIPTION
from recognizer.inference.pipeline import DEFAULT_TOP_K, MAX_TOP_K

IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp")

ERROR_STATUSES = {
    "400": "A field is missing or malformed (the message says what was expected and what arrived)",
    "404": "Unknown model",
    "405": "Wrong HTTP method",
    "411": "A chunked multipart body (no Content-Length): send its length, or the image alone as an image/* body",
    "413": "The upload or its pixel count is over the limit",
    "415": f"Not a supported image ({ACCEPTED_DESCRIPTION}) or not a multipart/image request",
    "429": "Too many requests from this client (IMGREC_RATE_LIMIT); retry after Retry-After seconds",
    "503": (
        "The model is not ready (loading, or weights missing), its queue is full, or the server's budget of "
        "decoded pixels in flight (IMGREC_DECODE_BUDGET_MPX) is taken; retry after Retry-After"
    ),
    "500": "The model failed while running this request's batch (the server's fault; the model keeps serving)",
    "504": "No result within IMGREC_TIMEOUT_S",
}


def _errors(*statuses: str) -> dict[str, Any]:
    return error_responses(ERROR_STATUSES, *statuses, retry_after=("429", "503"))


def _image_request(model_names: list[str], *, with_model: bool) -> dict[str, Any]:
    multipart_fields: dict[str, Any] = {
        "image": {"type": "string", "format": "binary", "description": ACCEPTED_DESCRIPTION},
        "top_k": {"type": "integer", "minimum": 1, "maximum": MAX_TOP_K, "default": DEFAULT_TOP_K},
        "explain": EXPLAIN_SCHEMA,
    }
    if with_model:
        multipart_fields["model"] = model_name_schema(model_names)
        multipart_fields["explain_class"] = EXPLAIN_CLASS_SCHEMA
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
        },
        {
            "name": "explain",
            "in": "query",
            "required": False,
            "description": "true: add `explanation` (a Grad-CAM heatmap of the top-1 class"
            + (")" if with_model else ", per model)")
            + " (a multipart `explain` field takes precedence)",
            "schema": EXPLAIN_SCHEMA,
        },
    ]
    if with_model:
        parameters.append(
            {
                "name": "explain_class",
                "in": "query",
                "required": False,
                "description": "Explain this class index instead of the top-1 (implies explain=true)",
                "schema": EXPLAIN_CLASS_SCHEMA,
            }
        )
        parameters.insert(
            0,
            {
                "name": "model",
                "in": "query",
                "required": False,
                "description": "Model name (a multipart `model` field takes precedence); default: resnet50 "
                "if it can be used, else the first model that can",
                "schema": model_name_schema(model_names),
            },
        )
    return parameters


MODEL_STAGES = ("preprocess", "inference", "explain", "overlay")
EXPLAIN_SCHEMA = {"type": "string", "enum": ["true", "false", "1", "0"], "default": "false"}
EXPLAIN_CLASS_SCHEMA = {
    "type": "integer",
    "minimum": 0,
    "maximum": 999,
    "description": "At most the model's classes - 1",
}


def _schemas() -> dict[str, Any]:
    prediction = {
        "type": "object",
        "required": ["label", "class_id", "index", "score"],
        "properties": {
            "label": {"type": "string", "examples": ["tabby"]},
            "class_id": {
                "type": "string",
                "description": "ImageNet: the WordNet id (n02123045); a custom model: the class name",
                "examples": ["n02123045"],
            },
            "index": {"type": "integer", "minimum": 0, "description": "The class's position in the model's output"},
            "score": {"type": "number", "minimum": 0, "maximum": 1},
        },
    }
    timings = {
        "type": "object",
        "required": ["decode", "preprocess", "inference", "total"],
        "properties": {
            stage: {"type": "number", "minimum": 0}
            for stage in ("decode", "preprocess", "queue", "inference", "explain", "overlay", "total")
        },
    }
    hedge = {
        "description": "The most specific answer that is at least 70% likely: the top-1 class itself, or a "
        "WordNet category above it (e.g. 'domestic cat' over 'Egyptian cat 45%'); null when none is",
        "anyOf": [
            {
                "type": "object",
                "required": ["label", "class_id", "score"],
                "properties": {
                    "label": {"type": "string", "examples": ["domestic cat"]},
                    "class_id": {"type": "string", "pattern": "^n[0-9]{8}$"},
                    "score": {"type": "number", "minimum": 0, "maximum": 1.0001},
                },
            },
            {"type": "null"},
        ],
    }
    confidence = {
        "type": "string",
        "enum": ["high", "low"],
        "description": "low: neither the top-1 class reaches 50% nor a useful category 70% "
        "(the photo looks like none of the 1000 ImageNet classes)",
    }
    png_uri = {"type": "string", "pattern": "^data:image/png;base64,"}
    explanation = {
        "type": "object",
        "description": "Grad-CAM of the last convolutional block (only with explain=true)",
        "required": ["class_index", "grid", "overlay", "model_input"],
        "properties": {
            "class_index": {"type": "integer", "minimum": 0},
            "grid": {
                "type": "array",
                "description": "The heatmap, rows top to bottom in the upright photo's frame, values 0..1",
                "minItems": 1,
                "items": {"type": "array", "minItems": 1, "items": {"type": "number", "minimum": 0, "maximum": 1}},
            },
            "overlay": {**png_uri, "description": "The heatmap over the photo, with a colour bar"},
            "model_input": {**png_uri, "description": "What the model saw: upright RGB at its input size"},
        },
    }
    predictions = {"type": "array", "items": ref("Prediction"), "description": "Highest score first"}
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string", "description": "What was expected and what arrived"}},
        },
        "Prediction": prediction,
        "Timings": timings,
        "Hedge": hedge,
        "Explanation": explanation,
        "ModelStatus": {
            "type": "object",
            "required": [
                "name",
                "label",
                "input_size",
                "state",
                "reason",
                "summary",
                "weights",
                "kind",
                "restarts",
                "precision",
            ],
            "properties": {
                "name": {"type": "string"},
                "label": {"type": "string"},
                "input_size": {"type": ["integer", "null"]},
                "state": {
                    "type": "string",
                    "enum": ["pending", "loading", "ready", "failed", "training"],
                    "description": "A custom model: training, ready or failed",
                },
                "reason": {
                    "type": "string",
                    "description": "Why the model cannot be used, in full, with the advice (empty when it can)",
                },
                "summary": {
                    "type": "string",
                    "description": "The state in a few words, as the pages show it: ready, loads on first use, "
                    "loading…, or unavailable: no weights offline | failed to load | worker restarting",
                },
                "weights": {"type": "string", "enum": ["imagenet", "random", "bundled", "custom"]},
                "kind": {
                    "type": "string",
                    "enum": ["imagenet", "custom"],
                    "description": "Whose label space: ImageNet-1k, or a custom model's own classes",
                },
                "backbone": {"type": "string", "description": "A custom model's backbone"},
                "classes": {"type": "array", "items": {"type": "string"}, "description": "A custom model's classes"},
                "public": {"type": "boolean"},
                "restarts": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "How often this model's inference worker died and was started again",
                },
                "precision": {
                    "type": "string",
                    "enum": ["fp32", "int8"],
                    "description": "What its forward pass computes in: int8 with IMGREC_PRECISION=fast (a model whose "
                    "int8 graph would change its answers, or that could not be quantized, says fp32); explanations "
                    "always run the fp32 graph",
                },
                "runtime": {
                    "type": "string",
                    "enum": ["keras", "onnxruntime"],
                    "description": "What runs its forward pass: Keras on TensorFlow, or ONNX Runtime "
                    "(IMGREC_PRECISION=fast: the int8 graph, or the float32 export where int8 was refused)",
                },
            },
        },
        "Classification": {
            "type": "object",
            "required": ["model", "predictions", "hedge", "confidence", "timings_ms", "cached", "permalink"],
            "properties": {
                "model": {"type": "string"},
                "predictions": predictions,
                "hedge": ref("Hedge"),
                "confidence": confidence,
                "explanation": ref("Explanation"),
                "timings_ms": ref("Timings"),
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
                        "required": ["model", "label", "kind", "predictions", "hedge", "confidence", "timings_ms"],
                        "properties": {
                            "model": {"type": "string"},
                            "label": {"type": "string"},
                            "kind": {
                                "type": "string",
                                "enum": ["imagenet", "custom"],
                                "description": "custom: the requester's or a public custom model, in its own "
                                "classes, outside the ensemble and the agreement",
                            },
                            "predictions": predictions,
                            "hedge": ref("Hedge"),
                            "confidence": confidence,
                            "explanation": ref("Explanation"),
                            "timings_ms": {
                                "type": "object",
                                "required": ["preprocess", "inference"],
                                "properties": {stage: {"type": "number"} for stage in MODEL_STAGES},
                            },
                        },
                    },
                },
                "ensemble": {
                    "type": ["object", "null"],
                    "description": "Top k of the mean of the models' probability vectors; "
                    "null when fewer than two models ran (no ensemble of one model)",
                    "required": ["predictions"],
                    "properties": {"predictions": predictions},
                },
                "agreement": {
                    "type": ["object", "null"],
                    "description": "How far the models agree; null when fewer than two models ran",
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
                        "200": json_response(
                            {
                                "type": "object",
                                "required": ["models"],
                                "properties": {"models": {"type": "array", "items": ref("ModelStatus")}},
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
                        "200": json_response(ref("Classification"), "The predictions, highest score first"),
                        **_errors("400", "404", "405", "411", "413", "415", "429", "500", "503", "504"),
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
                        "200": json_response(ref("Comparison"), "Per-model results, the ensemble and the agreement"),
                        **_errors("400", "405", "411", "413", "415", "429", "500", "503", "504"),
                    },
                }
            },
            **job_paths(model_names),
            **merged_paths(custom_model_paths(), custom_training_paths()),
        },
        "components": {
            "schemas": {**_schemas(), **job_schemas(), **custom_model_schemas(), **custom_training_schemas()},
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def merged_paths(*parts: dict[str, Any]) -> dict[str, Any]:
    """Path items of several parts of the document; a path in more than one gets all their operations
    (`/api/v1/custom-models`: GET from openapi_custom.py, POST from openapi_custom_training.py)."""
    paths: dict[str, Any] = {}
    for part in parts:
        for path, operations in part.items():
            paths.setdefault(path, {}).update(operations)
    return paths
