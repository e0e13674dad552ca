"""Pieces every part of the OpenAPI document is written with: a schema reference, a JSON response, and the
error responses of an operation (each part keeps its own words for what each status means there)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

RETRY_AFTER_HEADER = {
    "Retry-After": {"description": "Seconds to wait", "schema": {"type": "string", "pattern": "^[0-9]+$"}}
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_response(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def error_responses(
    descriptions: Mapping[str, str], *statuses: str, retry_after: Collection[str] = ("429",)
) -> dict[str, Any]:
    """The `Error` response of each status, described in `descriptions`; those in `retry_after` also
    document the Retry-After header."""
    responses = {status: json_response(ref("Error"), descriptions[status]) for status in statuses}
    for status in retry_after:
        if status in responses:
            responses[status]["headers"] = RETRY_AFTER_HEADER
    return responses
