"""The API against its own OpenAPI document, over real HTTP (pytest-django's live_server)."""

from __future__ import annotations

import json
import urllib.request

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from recognizer.openapi import openapi_document
from recognizer.registry import ModelRegistry, get_registry

# Random bytes are valid per the schema ("binary") yet rarely an image, so "valid data is accepted"
# cannot hold; everything else must: no 5xx, and every status, header and body as documented.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


# Schemathesis sends most image/* bodies as raw bytes already; BMP needs saying.
schemathesis.serializer.alias("image/bmp", "application/octet-stream")

# Loaded from the same function the endpoint serves: schemathesis' lazy `from_fixture` loader does
# not run under pytest 9, and live_server's address is only known inside the test.
schema = schemathesis.openapi.from_dict(openapi_document(model_names=get_registry().names))


def test_the_served_document_is_the_tested_one(live_server) -> None:  # noqa: ANN001
    with urllib.request.urlopen(f"{live_server.url}/api/v1/openapi.json") as response:
        assert json.load(response) == schema.raw_schema


@schema.parametrize()
@settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case, live_server, registry: ModelRegistry) -> None:  # noqa: ANN001
    case.call_and_validate(base_url=live_server.url, checks=CHECKS)
