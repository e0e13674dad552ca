"""Server-rendered pages: upload form -> result page, and About."""

from __future__ import annotations

import base64
import time

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from recognizer.charts import chart_alt_text, render_bar_chart_svg, svg_data_uri
from recognizer.errors import ImageTooLarge, InvalidInput, RecognizerError
from recognizer.forms import UploadForm
from recognizer.imaging import encode_thumbnail
from recognizer.registry import ModelRegistry, get_registry
from recognizer.services import Classification, classify_image

TOP_K = 5
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
        "max_upload_mb": settings.IMGREC_MAX_UPLOAD_MB,
    }
    return render(request, "recognizer/upload.html", context, status=status)


@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    registry = get_registry()
    if request.method == "GET":
        return _render_form(request, _upload_form(registry))
    try:
        return _classify_upload(request, registry)
    except RecognizerError as error:
        response = _render_form(request, _upload_form(registry), status=error.status, error=error)
        retry_after_s = getattr(error, "retry_after_s", None)
        if retry_after_s is not None:
            response["Retry-After"] = str(retry_after_s)
        return response


def _classify_upload(request: HttpRequest, registry: ModelRegistry) -> HttpResponse:
    try:
        data, files = request.POST, request.FILES
    except RequestDataTooBig:
        raise ImageTooLarge("Expected form fields under 1 MB besides the image. Received more") from None
    if getattr(request, "upload_too_many_files", False):
        raise InvalidInput("Expected one image file per request. Received more than one")
    too_large = getattr(request, "upload_too_large", None)
    if too_large:
        raise ImageTooLarge(
            f"Expected an upload of at most {settings.IMGREC_MAX_UPLOAD_MB} MB. "
            f"Received {too_large / 1024 / 1024:.1f} MB or more"
        )
    form = _upload_form(registry, data, files)
    if not form.is_valid():
        return _render_form(request, form, status=400)
    result = classify_image(
        image_bytes=form.cleaned_data["image"].read(),
        model_name=form.cleaned_data["model"],
        top_k=TOP_K,
        max_pixels=settings.IMGREC_MAX_PIXELS,
        registry=registry,
    )
    return _render_result(request, result, registry)


def _render_result(request: HttpRequest, result: Classification, registry: ModelRegistry) -> HttpResponse:
    spec = registry.spec(result.model)
    chart_start = time.perf_counter()
    chart = svg_data_uri(render_bar_chart_svg(result.predictions, title=f"{spec.label}: top {TOP_K}"))
    result.timings_ms["chart"] = (time.perf_counter() - chart_start) * 1000.0
    result.timings_ms["total"] += result.timings_ms["chart"]
    thumbnail = base64.b64encode(encode_thumbnail(result.image)).decode("ascii")
    context = {
        "result": result,
        "model_label": spec.label,
        "chart_uri": chart,
        "chart_alt": chart_alt_text(result.predictions),
        "thumbnail_uri": f"data:image/jpeg;base64,{thumbnail}",
        "timings": [(stage, result.timings_ms[stage]) for stage in TIMED_STAGES],
        "form": _upload_form(registry),
    }
    return render(request, "recognizer/result.html", context)


@require_GET
def about(request: HttpRequest) -> HttpResponse:
    registry = get_registry()
    models = [(registry.spec(status.name), status) for status in registry.statuses()]
    return render(request, "recognizer/about.html", {"models": models})
