"""The batch-job API: submit, status, results (JSON pages and CSV), cancel. Documented in api/openapi.py."""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse

from recognizer import serving
from recognizer.api.requests import api_requester, page_session_key, parse_top_k
from recognizer.api.views import json_endpoint
from recognizer.custom.access import usable_model_name
from recognizer.inference.errors import InvalidInput, ModelNotReady
from recognizer.jobs import services
from recognizer.jobs.exports import results_csv
from recognizer.jobs.uploads import create_job_from_upload
from recognizer.ops.ratelimit import rate_limit
from recognizer.ops.uploads import job_upload


def job_links(job_id: str) -> dict[str, str]:
    return {
        "status_url": reverse("recognizer:api_job", args=[job_id]),
        "results_url": reverse("recognizer:api_job_results", args=[job_id]),
    }


@rate_limit("classify")
@json_endpoint("POST")
def submit(request: HttpRequest) -> JsonResponse:
    if not (request.content_type or "").startswith("multipart/"):
        raise InvalidInput(
            "Expected multipart/form-data with photos in 'images' and/or a .zip in 'archive'. "
            f"Received Content-Type {request.content_type or 'none'!r}"
        )
    fields, files = job_upload(request)
    model_name = fields.get("model") or serving.get_registry().default_model_name()
    if model_name is None:
        raise ModelNotReady("Expected at least one usable model. Received none: every model failed to load")
    model_name = usable_model_name(model_name, api_requester(request), serving.get_registry())
    job = create_job_from_upload(
        model_name=model_name,
        top_k=parse_top_k(fields),
        session_key=page_session_key(request),
        images=files.getlist("images"),
        archive=files.get("archive"),
    )
    links = job_links(str(job.id))
    response = JsonResponse({"id": str(job.id), "state": job.state, "total": job.total, **links}, status=202)
    response["Location"] = links["status_url"]
    return response


@json_endpoint("GET")
def status(request: HttpRequest, job_id: str) -> JsonResponse:
    job = services.get_job(job_id)
    return JsonResponse({**services.job_status(job), "results_url": job_links(str(job.id))["results_url"]})


@json_endpoint("GET")
def results(request: HttpRequest, job_id: str) -> JsonResponse:
    job = services.get_job(job_id)
    offset = _whole_number(request.GET.get("offset", ""), "offset", default=0, maximum=10**9)
    limit = _whole_number(
        request.GET.get("limit", ""),
        "limit",
        default=services.RESULTS_PER_PAGE,
        maximum=services.MAX_RESULTS_PER_PAGE,
        minimum=1,
    )
    page, next_offset = services.job_results(job, offset=offset, limit=limit)
    return JsonResponse({"results": page, "next": next_offset})


@json_endpoint("GET")
def results_as_csv(request: HttpRequest, job_id: str) -> HttpResponse:
    job = services.get_job(job_id)
    response = HttpResponse(results_csv(job), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="imgrec-job-{job.id}.csv"'
    return response


@json_endpoint("POST")
def cancel(request: HttpRequest, job_id: str) -> JsonResponse:
    job = services.cancel_job(services.get_job(job_id))
    return JsonResponse({**services.job_status(job), "results_url": job_links(str(job.id))["results_url"]})


def _whole_number(value: str, name: str, *, default: int, maximum: int, minimum: int = 0) -> int:
    if value == "":
        return default
    number = int(value) if re.fullmatch(r"[0-9]{1,10}", value) else -1
    if not minimum <= number <= maximum:
        raise InvalidInput(f"Expected {name} to be a whole number from {minimum} to {maximum}. Received {value!r}")
    return number
