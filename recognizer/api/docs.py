"""/api/docs: a server-rendered page generated from the OpenAPI document (no CDN, no JavaScript)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from recognizer import serving
from recognizer.api.openapi import openapi_document
from recognizer.api.views import json_endpoint


@json_endpoint("GET")  # a wrong method is a JSON 405 here too, as everywhere under /api/
def docs(request: HttpRequest) -> HttpResponse:
    document = openapi_document(model_names=serving.get_registry().names)
    return render(request, "recognizer/api_docs.html", {"document": document, "operations": operations(document)})


def operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Flatten the document's paths into what the docs page lists, one entry per method and path."""
    listed = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            body = operation.get("requestBody", {}).get("content", {})
            form = body.get("multipart/form-data", {}).get("schema", {}).get("properties", {})
            listed.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": operation["summary"],
                    "parameters": operation.get("parameters", []),
                    "form_fields": [
                        {"name": name, "schema": schema, "required": name in ("image",)}
                        for name, schema in form.items()
                    ],
                    "content_types": list(body),
                    "responses": [
                        {"status": status, "description": response["description"]}
                        for status, response in operation["responses"].items()
                    ],
                }
            )
    return listed
