"""The compare page: one upload, every ready model side by side, their ensemble and agreement."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from recognizer.charts import chart_image, data_uri
from recognizer.comparison import compare_image
from recognizer.errors import RecognizerError
from recognizer.forms import CompareForm
from recognizer.imaging import encode_thumbnail
from recognizer.ratelimit import rate_limit
from recognizer.registry import get_registry
from recognizer.services import DEFAULT_TOP_K
from recognizer.uploads import multipart_upload


@require_http_methods(["GET", "POST"])
@rate_limit("classify")
def compare(request: HttpRequest) -> HttpResponse:
    context: dict[str, object] = {"statuses": get_registry().statuses(), "max_upload_mb": settings.IMGREC_MAX_UPLOAD_MB}
    if request.method == "GET":
        return render(request, "recognizer/compare.html", {**context, "form": CompareForm()})
    try:
        data, file = multipart_upload(request)
        form = CompareForm(data, {"image": file} if file is not None else {})
        if not form.is_valid():
            return render(request, "recognizer/compare.html", {**context, "form": form}, status=400)
        comparison = compare_image(
            image_bytes=form.cleaned_data["image"].read(), top_k=DEFAULT_TOP_K, max_pixels=settings.IMGREC_MAX_PIXELS
        )
    except RecognizerError as error:
        return render(
            request, "recognizer/compare.html", {**context, "form": CompareForm(), "error": error}, status=error.status
        )
    columns = [
        {"result": result, "chart": chart_image(result.predictions, title=result.label)}
        for result in comparison.results
    ]
    context.update(
        form=CompareForm(),
        comparison=comparison,
        columns=columns,
        ensemble_chart=chart_image(comparison.ensemble, title="Ensemble (mean)"),
        agreement=comparison.agreement(),
        thumbnail_uri=data_uri(encode_thumbnail(comparison.image), mime="image/jpeg"),
    )
    return render(request, "recognizer/compare.html", context)
