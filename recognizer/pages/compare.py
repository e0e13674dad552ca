"""The compare page: one upload, every ready model side by side with where it looked, their ensemble and agreement.

This browser's ready custom models (and public ones, at most MAX_COMPARED_CUSTOM) stand beside the
pretrained models, each in its own classes, outside the ensemble and the agreement."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from recognizer import serving
from recognizer.custom.access import MAX_COMPARED_CUSTOM, Requester, comparable_custom_names
from recognizer.inference.errors import RecognizerError
from recognizer.inference.hierarchy import CLASS_THRESHOLD
from recognizer.inference.pipeline import DEFAULT_TOP_K
from recognizer.ops.ratelimit import rate_limit
from recognizer.ops.responses import handles_errors
from recognizer.ops.uploads import multipart_upload
from recognizer.pages.charts import chart_image, data_uri
from recognizer.pages.forms import CompareForm


def _context(**extra: object) -> dict[str, object]:
    return {"statuses": serving.get_registry().statuses(), "max_upload_mb": settings.IMGREC_MAX_UPLOAD_MB, **extra}


def _compare_error_page(request: HttpRequest, error: RecognizerError) -> HttpResponse:
    return render(request, "recognizer/compare.html", _context(form=CompareForm(), error=error))


@require_http_methods(["GET", "HEAD", "POST"])
@rate_limit("classify")
@handles_errors(page=_compare_error_page)
def compare(request: HttpRequest) -> HttpResponse:
    if request.method in ("GET", "HEAD"):
        return render(request, "recognizer/compare.html", _context(form=CompareForm()))
    data, file = multipart_upload(request)
    form = CompareForm(data, {"image": file} if file is not None else {})
    if not form.is_valid():
        return render(request, "recognizer/compare.html", _context(form=form), status=400)
    pipeline = serving.get_pipeline()
    custom = comparable_custom_names(Requester.from_request(request), limit=MAX_COMPARED_CUSTOM)
    comparison = pipeline.compare(image_bytes=form.cleaned_data["image"].read(), top_k=DEFAULT_TOP_K, custom=custom)
    explanations = pipeline.explain_comparison(comparison)
    columns = [
        {
            "result": result,
            "chart": chart_image(result.predictions, title=result.label),
            "explanation": explanations[result.model],
            "overlay_uri": data_uri(explanations[result.model].overlay, mime="image/png"),
        }
        for result in comparison.results
    ]
    registry = serving.get_registry()
    context = _context(
        form=CompareForm(),
        comparison=comparison,
        columns=columns,
        skipped=[registry.status(item["model"]) for item in comparison.skipped if item["model"] in registry.names],
        ensemble_chart=None
        if comparison.ensemble is None
        else chart_image(comparison.ensemble, title="Ensemble (mean)"),
        agreement=comparison.agreement(),
        thumbnail_uri=data_uri(comparison.thumbnail, mime="image/jpeg"),
        class_threshold=CLASS_THRESHOLD,
    )
    return render(request, "recognizer/compare.html", context)
