"""The batch pages: /batch/ (many photos, a folder or a .zip -> a job) and /batch/<id>/ (its progress,
then a gallery with a filter by label, the errors and the exports). Without JavaScript the job page
refreshes itself while the job runs; batch.js polls the status JSON instead of waiting for the refresh."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from django import forms
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from recognizer import serving
from recognizer.custom.access import Requester, ready_names
from recognizer.history.sessions import session_key_of
from recognizer.inference.errors import InvalidInput, RecognizerError
from recognizer.jobs import services
from recognizer.jobs.models import Job, JobImage
from recognizer.jobs.uploads import create_job_from_upload
from recognizer.ops.ratelimit import rate_limit
from recognizer.ops.responses import handles_errors
from recognizer.ops.uploads import job_upload
from recognizer.pages.forms import UploadForm, offer_models

REFRESH_S = 3
GALLERY_SIZE = 500


class BatchForm(forms.Form):
    model = forms.ChoiceField(label="Model")
    top_k = UploadForm.base_fields["top_k"]

    def __init__(self, *args: Any, custom: Sequence[str] = (), **kwargs: Any) -> None:
        """`custom`: the ready custom models this browser may use, offered after the catalogue."""
        super().__init__(*args, **kwargs)
        registry = serving.get_registry()
        offer_models(
            self.fields["model"],
            statuses=registry.statuses(),
            custom=custom,
            default_model=registry.default_model_name(),
            received="%(value)r",
        )


def batch_form(request: HttpRequest, *args: object) -> BatchForm:
    return BatchForm(*args, custom=ready_names(Requester.from_request(request)))


def _render_form(request: HttpRequest, form: BatchForm, *, error: RecognizerError | None = None) -> HttpResponse:
    context = {
        "form": form,
        "error": error,
        "max_archive_mb": settings.IMGREC_ARCHIVE_MAX_MB,
        "max_entries": settings.IMGREC_ARCHIVE_MAX_ENTRIES,
    }
    return render(request, "recognizer/batch.html", context, status=error.status if error else 200)


def _batch_error_page(request: HttpRequest, error: RecognizerError) -> HttpResponse:
    return _render_form(request, batch_form(request), error=error)


@require_http_methods(["GET", "POST"])
@rate_limit("classify")
@handles_errors(page=_batch_error_page)
def batch(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _render_form(request, batch_form(request))
    data, files = job_upload(request)
    form = batch_form(request, data)
    if not form.is_valid():
        raise InvalidInput(" ".join(message for errors in form.errors.values() for message in errors))
    images = [image for image in files.getlist("images") if image.name]
    job = create_job_from_upload(
        model_name=form.cleaned_data["model"],
        top_k=form.cleaned_data["top_k"],
        session_key=session_key_of(request, create=True) or "",
        images=images,
        archive=files.get("archive") if files.get("archive") and files["archive"].name else None,
    )
    return HttpResponseRedirect(reverse("recognizer:batch_job", args=[job.id]), status=303)


def _job_or_404(job_id: UUID) -> Job:
    try:
        return services.get_job(job_id)
    except RecognizerError:
        raise Http404("Expected the id of an existing job. Received another") from None


@require_GET
def batch_job(request: HttpRequest, job_id: UUID) -> HttpResponse:
    job = _job_or_404(job_id)
    status = services.job_status(job)
    finished_count = status["done"] + status["failed"]
    left = job.total - finished_count
    rate = status["images_per_s"]
    processed = JobImage.objects.filter(job=job, processed=True).defer("data", "thumbnail")
    succeeded = processed.filter(error="")
    labels = sorted({image.top_label for image in succeeded.only("predictions")})
    label = request.GET.get("label", "")
    gallery = [image for image in succeeded if not label or image.top_label == label][:GALLERY_SIZE]
    context = {
        "job": job,
        "status": status,
        "finished": job.state in Job.FINISHED,
        "finished_count": finished_count,
        "seconds_left": round(left / rate) if rate and job.state not in Job.FINISHED else None,
        "labels": labels,
        "label": label,
        "gallery": gallery,
        "gallery_size": GALLERY_SIZE,
        "errors": processed.exclude(error="").only("index", "name", "error"),
        "refresh_s": REFRESH_S,
    }
    return render(request, "recognizer/batch_job.html", context)


@require_GET
def batch_thumbnail(request: HttpRequest, job_id: UUID, index: int) -> HttpResponse:
    image = JobImage.objects.filter(job_id=job_id, index=index, processed=True).only("thumbnail").first()
    if image is None or not image.thumbnail:
        raise Http404("No thumbnail for this image of this job")
    response = HttpResponse(bytes(image.thumbnail), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=86400"
    return response


@require_GET
def batch_json(request: HttpRequest, job_id: UUID) -> JsonResponse:
    """Every result of the job, for download (the API pages the same results)."""
    job = _job_or_404(job_id)
    results, _ = services.job_results(job, offset=0, limit=job.total)
    response = JsonResponse({**services.job_status(job), "results": results})
    response["Content-Disposition"] = f'attachment; filename="imgrec-job-{job.id}.json"'
    return response


@require_http_methods(["POST"])
def batch_cancel(request: HttpRequest, job_id: UUID) -> HttpResponse:
    services.cancel_job(_job_or_404(job_id))
    return HttpResponseRedirect(reverse("recognizer:batch_job", args=[job_id]), status=303)
