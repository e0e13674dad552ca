"""The batch-job part of the OpenAPI document (api/openapi.py includes it); the views are api/jobs.py."""

from __future__ import annotations

from typing import Any

from recognizer.api.openapi_custom import model_name_schema
from recognizer.api.openapi_parts import error_responses, json_response, ref
from recognizer.inference.pipeline import DEFAULT_TOP_K, MAX_TOP_K
from recognizer.jobs.services import MAX_RESULTS_PER_PAGE, RESULTS_PER_PAGE

JOB_STATES = ["queued", "running", "done", "failed", "cancelled"]

_ERRORS = {
    "400": "A field is missing or malformed, or the archive is damaged (the message says what was expected)",
    "404": "No job with this id, or an unknown model",
    "405": "Wrong HTTP method",
    "413": "The upload, the archive (entries, uncompressed size, compression ratio) or the job is over a limit",
    "415": "The archive is not a .zip, or the body is not multipart/form-data",
    "429": "Too many requests from this client (IMGREC_RATE_LIMIT); retry after Retry-After seconds",
    "503": "No usable model",
}


def _errors(*statuses: str) -> dict[str, Any]:
    return error_responses(_ERRORS, *statuses)


_JOB_ID = {
    "name": "job_id",
    "in": "path",
    "required": True,
    "description": "The job's id (a random UUID)",
    "schema": {"type": "string"},
}


def job_paths(model_names: list[str]) -> dict[str, Any]:
    submit_fields = {
        "images": {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
            "description": "Photos, the field repeated once per file",
        },
        "archive": {"type": "string", "format": "binary", "description": "A .zip of photos (folders allowed)"},
        "model": model_name_schema(model_names),
        "top_k": {"type": "integer", "minimum": 1, "maximum": MAX_TOP_K, "default": DEFAULT_TOP_K},
    }
    return {
        "/api/v1/jobs": {
            "post": {
                "operationId": "submitJob",
                "summary": "Classify a collection: photos and/or a zip, run by the workers in chunks",
                "requestBody": {
                    "required": True,
                    "content": {"multipart/form-data": {"schema": {"type": "object", "properties": submit_fields}}},
                },
                "responses": {
                    "202": {
                        **json_response(ref("JobCreated"), "The job is stored and queued"),
                        "headers": {"Location": {"description": "The status URL", "schema": {"type": "string"}}},
                    },
                    **_errors("400", "404", "405", "413", "415", "429", "503"),
                },
            }
        },
        "/api/v1/jobs/{job_id}": {
            "get": {
                "operationId": "jobStatus",
                "summary": "A job's state and progress",
                "parameters": [_JOB_ID],
                "responses": {"200": json_response(ref("JobStatus"), "State and counts"), **_errors("404", "405")},
            }
        },
        "/api/v1/jobs/{job_id}/results": {
            "get": {
                "operationId": "jobResults",
                "summary": "Finished results in submission order, a page at a time",
                "parameters": [
                    _JOB_ID,
                    {
                        "name": "offset",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 0, "default": 0},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_RESULTS_PER_PAGE,
                            "default": RESULTS_PER_PAGE,
                        },
                    },
                ],
                "responses": {
                    "200": json_response(ref("JobResults"), "A page of results"),
                    **_errors("400", "404", "405"),
                },
            }
        },
        "/api/v1/jobs/{job_id}/results.csv": {
            "get": {
                "operationId": "jobResultsCsv",
                "summary": "Every finished result as CSV: one row per image and rank, errors on rows of their own",
                "parameters": [_JOB_ID],
                "responses": {
                    "200": {
                        "description": "Columns: index, name, rank, label, class_id, score, error",
                        "content": {"text/csv": {"schema": {"type": "string"}}},
                    },
                    **_errors("404", "405"),
                },
            }
        },
        "/api/v1/jobs/{job_id}/cancel": {
            "post": {
                "operationId": "cancelJob",
                "summary": "Cancel a queued or running job (chunks not yet run are skipped)",
                "parameters": [_JOB_ID],
                "responses": {
                    "200": json_response(ref("JobStatus"), "The job after cancelling"),
                    **_errors("404", "405"),
                },
            }
        },
    }


def job_schemas() -> dict[str, Any]:
    return {
        "JobCreated": {
            "type": "object",
            "required": ["id", "state", "total", "status_url", "results_url"],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "state": {"type": "string", "enum": JOB_STATES},
                "total": {"type": "integer", "minimum": 1},
                "status_url": {"type": "string"},
                "results_url": {"type": "string"},
            },
        },
        "JobStatus": {
            "type": "object",
            "required": ["id", "state", "model", "top_k", "total", "done", "failed", "images_per_s", "results_url"],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "state": {"type": "string", "enum": JOB_STATES},
                "model": {"type": "string"},
                "top_k": {"type": "integer", "minimum": 1, "maximum": MAX_TOP_K},
                "total": {"type": "integer", "minimum": 0},
                "done": {"type": "integer", "minimum": 0},
                "failed": {"type": "integer", "minimum": 0},
                "images_per_s": {"type": "number", "minimum": 0},
                "results_url": {"type": "string"},
            },
        },
        "JobResults": {
            "type": "object",
            "required": ["results", "next"],
            "properties": {
                "results": {
                    "type": "array",
                    "items": {
                        "oneOf": [
                            {
                                "type": "object",
                                "required": ["name", "predictions"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "predictions": {"type": "array", "items": ref("Prediction")},
                                },
                            },
                            {
                                "type": "object",
                                "required": ["name", "error"],
                                "properties": {"name": {"type": "string"}, "error": {"type": "string"}},
                            },
                        ]
                    },
                },
                "next": {
                    "type": ["integer", "null"],
                    "description": "The offset to ask for next; null once every image's result has been given",
                },
            },
        },
    }
