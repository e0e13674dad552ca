"""Server-rendered pages: upload form -> result page, and About."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from recognizer.charts import chart_image, data_uri
from recognizer.errors import RecognizerError
from recognizer.forms import UploadForm
from recognizer.history import classify_with_history, session_key_of
from recognizer.models import HistoryEntry
from recognizer.ratelimit import rate_limit
from recognizer.registry import SPECS_BY_NAME, ModelRegistry, get_registry
from recognizer.responses import with_retry_after
from recognizer.services import timed
from recognizer.uploads import multipart_upload

TIMED_STAGES = ("decode", "preprocess", "queue", "inference", "chart", "total")


def _upload_form(registry: ModelRegistry, *args: object) -> UploadForm:
    return UploadForm(*args, statuses=registry.statuses(), default_model=registry.default_model_name())


def _render_form(
    request: HttpRequest, form: UploadForm, *, status: int = 200, error: RecognizerError | None = None
) -> HttpResponse:
    registry = get_registry()
    context = {
        "form": form,
        "error": error,
        "statuses": registry.statuses(),
        "default_model_note": registry.default_model_note(),
        "max_upload_mb": settings.IMGREC_MAX_UPLOAD_MB,
    }
    return render(request, "recognizer/upload.html", context, status=status)


@require_http_methods(["GET", "POST"])
@rate_limit("classify")
def upload(request: HttpRequest) -> HttpResponse:
    registry = get_registry()
    if request.method == "GET":
        return _render_form(request, _upload_form(registry))
    try:
        return _classify_upload(request, registry)
    except RecognizerError as error:
        return with_retry_after(_render_form(request, _upload_form(registry), status=error.status, error=error), error)


def _classify_upload(request: HttpRequest, registry: ModelRegistry) -> HttpResponse:
    data, file = multipart_upload(request)
    form = _upload_form(registry, data, {"image": file} if file is not None else {})
    if not form.is_valid():
        return _render_form(request, form, status=400)
    entry = classify_with_history(
        image_bytes=form.cleaned_data["image"].read(),
        model_name=form.cleaned_data["model"],
        top_k=form.cleaned_data["top_k"],
        max_pixels=settings.IMGREC_MAX_PIXELS,
        session_key=session_key_of(request, create=True),
        registry=registry,
    )
    return render_entry(request, entry)


def render_entry(request: HttpRequest, entry: HistoryEntry) -> HttpResponse:
    """The result page of a stored classification: right after the upload, and at its permalink."""
    spec = SPECS_BY_NAME.get(entry.model)
    model_label = spec.label if spec else entry.model
    predictions = entry.prediction_objects()
    timings_ms = dict(entry.timings_ms)
    with timed(timings_ms, "chart"):
        chart = chart_image(predictions, title=f"{model_label}: top {len(predictions)}")
    timings_ms["total"] += timings_ms["chart"]
    try:
        with entry.thumbnail.open("rb") as file:
            thumbnail_uri = data_uri(file.read(), mime="image/jpeg")
    except OSError:  # removed from MEDIA_ROOT by hand: the result still shows, without its picture
        thumbnail_uri = ""
    context = {
        "result": entry,
        "model_label": model_label,
        "chart": chart,
        "thumbnail_uri": thumbnail_uri,
        "timings": [(stage, timings_ms[stage]) for stage in TIMED_STAGES if stage in timings_ms],
        "permalink": request.build_absolute_uri(reverse("recognizer:permalink", args=[entry.id])),
        "form": _upload_form(get_registry()),
    }
    return render(request, "recognizer/result.html", context)


@require_GET
def about(request: HttpRequest) -> HttpResponse:
    registry = get_registry()
    models = [(registry.spec(status.name), status) for status in registry.statuses()]
    return render(request, "recognizer/about.html", {"models": models})
