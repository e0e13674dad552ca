"""Server-rendered pages: the upload form, the result page (every result's permalink), and About.

POST / classifies, files the result in the session's history and redirects to its permalink
(POST/redirect/GET), so reloading the result never posts the photo again.
"""

from __future__ import annotations

from uuid import UUID

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_safe

from recognizer import serving
from recognizer.history.cache import classify_with_history
from recognizer.history.models import HistoryEntry
from recognizer.history.sessions import session_key_of
from recognizer.history.store import read_thumbnail
from recognizer.inference.catalog import SPECS_BY_NAME
from recognizer.inference.errors import RecognizerError
from recognizer.inference.pipeline import timed
from recognizer.inference.registry import ModelRegistry, ModelState
from recognizer.ops.ratelimit import rate_limit
from recognizer.ops.responses import handles_errors
from recognizer.ops.uploads import multipart_upload
from recognizer.pages.charts import chart_image, data_uri
from recognizer.pages.forms import UploadForm

TIMED_STAGES = ("decode", "preprocess", "queue", "inference", "chart", "total")


def upload_form(registry: ModelRegistry, *args: object) -> UploadForm:
    return UploadForm(*args, statuses=registry.statuses(), default_model=registry.default_model_name())


def default_model_note(registry: ModelRegistry) -> str:
    """One line saying why the preselected model is not ResNet50, or nothing when it is."""
    default = registry.default_model_name()
    if default is None or default == "resnet50" or "resnet50" not in registry.names:
        return ""
    resnet = registry.status("resnet50")
    condition = "still loading" if resnet.state == ModelState.LOADING else "unavailable"
    return f"{registry.spec(default).label} is preselected because ResNet50 is {condition}: {resnet.reason}"


def _render_form(
    request: HttpRequest, form: UploadForm, *, status: int = 200, error: RecognizerError | None = None
) -> HttpResponse:
    registry = serving.get_registry()
    context = {
        "form": form,
        "error": error,
        "statuses": registry.statuses(),
        "default_model_note": default_model_note(registry),
        "max_upload_mb": settings.IMGREC_MAX_UPLOAD_MB,
    }
    return render(request, "recognizer/upload.html", context, status=status)


def _upload_error_page(request: HttpRequest, error: RecognizerError) -> HttpResponse:
    return _render_form(request, upload_form(serving.get_registry()), error=error)


@require_http_methods(["GET", "HEAD", "POST"])
@rate_limit("classify")
@handles_errors(page=_upload_error_page)
def upload(request: HttpRequest) -> HttpResponse:
    registry = serving.get_registry()
    if request.method in ("GET", "HEAD"):
        return _render_form(request, upload_form(registry))
    data, file = multipart_upload(request)
    form = upload_form(registry, data, {"image": file} if file is not None else {})
    if not form.is_valid():
        return _render_form(request, form, status=400)
    entry = classify_with_history(
        pipeline=serving.get_pipeline(),
        image_bytes=form.cleaned_data["image"].read(),
        model_name=form.cleaned_data["model"],
        top_k=form.cleaned_data["top_k"],
        session_key=session_key_of(request, create=True) or "",
    )
    return HttpResponseRedirect(reverse("recognizer:permalink", args=[entry.id]), status=303)


@require_safe
def permalink(request: HttpRequest, entry_id: UUID) -> HttpResponse:
    """The result page of a stored classification."""
    entry = get_object_or_404(HistoryEntry, id=entry_id)
    spec = SPECS_BY_NAME.get(entry.model)
    model_label = spec.label if spec else entry.model
    predictions = entry.prediction_objects()
    timings_ms = dict(entry.timings_ms)
    with timed(timings_ms, "chart"):
        chart = chart_image(predictions, title=f"{model_label}: top {len(predictions)}")
    timings_ms["total"] += timings_ms["chart"]
    thumbnail = read_thumbnail(entry)  # removed by hand: the result still shows, without its picture
    context = {
        "result": entry,
        "model_label": model_label,
        "chart": chart,
        "thumbnail_uri": data_uri(thumbnail, mime="image/jpeg") if thumbnail else "",
        "timings": [(stage, timings_ms[stage]) for stage in TIMED_STAGES if stage in timings_ms],
        "permalink": request.build_absolute_uri(reverse("recognizer:permalink", args=[entry.id])),
        "form": upload_form(serving.get_registry()),
    }
    return render(request, "recognizer/result.html", context)


@require_safe
def about(request: HttpRequest) -> HttpResponse:
    registry = serving.get_registry()
    models = [(registry.spec(status.name), status) for status in registry.statuses()]
    return render(request, "recognizer/about.html", {"models": models})
