"""The API against its own OpenAPI document, over real HTTP (pytest-django's live_server)."""

from __future__ import annotations

import json
import re
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

from recognizer import serving, urls
from recognizer.api.openapi import openapi_document
from recognizer.inference.registry import ModelRegistry

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
schema = schemathesis.openapi.from_dict(openapi_document(model_names=serving.get_registry().names))


def test_the_document_covers_every_api_route_and_names_the_enabled_models(live_server) -> None:  # noqa: ANN001
    with urllib.request.urlopen(f"{live_server.url}/api/v1/openapi.json") as response:
        served = json.load(response)
    routes = {
        "/" + re.sub(r"<str:(\w+)>", r"{\1}", str(pattern.pattern))
        for pattern in urls.urlpatterns
        if str(pattern.pattern).startswith("api/v1/")
    }
    assert set(served["paths"]) == routes - {"/api/v1/openapi.json"}
    model_field = served["paths"]["/api/v1/classify"]["post"]["parameters"]
    assert [field["schema"]["anyOf"][0]["enum"] for field in model_field if field["name"] == "model"] == [
        serving.get_registry().names
    ]


@schema.parametrize()
@settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case, live_server, registry: ModelRegistry) -> None:  # noqa: ANN001
    # explain=true on compare runs a Grad-CAM per model (VGG19's alone ~1 s): more than requests' 10 s on a
    # loaded 2-core machine. A client timeout, not an assertion on time.
    case.call_and_validate(base_url=live_server.url, checks=CHECKS, timeout=120)
