"""Server-rendered pages: the upload form, the result page (every result's permalink), and About.

POST / classifies, files the result in the session's history and redirects to its permalink
(POST/redirect/GET), so reloading the result never posts the photo again. The permalink shows where the
model looked (Grad-CAM, computed on each view from the stored model input; `?class=<index>` for another
class), what it saw, and the hedged answer; `?fragment=1` is the same result without the page around it.
"""

from __future__ import annotations

import re
from uuid import UUID

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_safe

from recognizer import serving
from recognizer.custom.access import Requester, ready_names, visible
from recognizer.history.cache import classify_with_history
from recognizer.history.explain import explain_entry
from recognizer.history.models import HistoryEntry
from recognizer.history.sessions import session_key_of
from recognizer.history.store import read_model_input, read_thumbnail
from recognizer.inference.catalog import SPECS_BY_NAME
from recognizer.inference.errors import InvalidInput, RecognizerError
from recognizer.inference.hierarchy import CLASS_THRESHOLD
from recognizer.inference.imaging import model_input_png
from recognizer.inference.labels import NUM_CLASSES
from recognizer.inference.pipeline import Explanation, timed
from recognizer.inference.registry import ModelRegistry, ModelState
from recognizer.ops.ratelimit import rate_limit
from recognizer.ops.responses import handles_errors
from recognizer.ops.uploads import multipart_upload
from recognizer.pages.charts import chart_image, data_uri
from recognizer.pages.forms import UploadForm

TIMED_STAGES = ("decode", "preprocess", "queue", "inference", "explain", "overlay", "chart", "total")


def upload_form(request: HttpRequest, registry: ModelRegistry, *args: object) -> UploadForm:
    """The upload form; its dropdown has the catalogue, then the ready custom models this browser may use."""
    custom = ready_names(Requester.from_request(request))
    return UploadForm(*args, statuses=registry.statuses(), default_model=registry.default_model_name(), custom=custom)


def default_model_note(registry: ModelRegistry) -> str:
    """One line saying why the preselected model is not ResNet50, or nothing when it is."""
    default = registry.default_model_name()
    if default is None or default == "resnet50" or "resnet50" not in registry.names:
        return ""
    resnet = registry.status("resnet50")
    condition = "still loading" if resnet.state == ModelState.LOADING else resnet.summary
    return f"{registry.spec(default).label} is preselected because ResNet50 is {condition}."


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
    return _render_form(request, upload_form(request, serving.get_registry()), error=error)


@require_http_methods(["GET", "HEAD", "POST"])
@rate_limit("classify")
@handles_errors(page=_upload_error_page)
def upload(request: HttpRequest) -> HttpResponse:
    registry = serving.get_registry()
    if request.method in ("GET", "HEAD"):
        return _render_form(request, upload_form(request, registry))
    data, file = multipart_upload(request)
    form = upload_form(request, registry, data, {"image": file} if file is not None else {})
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


def explained_class(request: HttpRequest) -> int | None:
    """`?class=<index>`: which class's heatmap to show (none: the top-1)."""
    value = request.GET.get("class", "")
    if value == "":
        return None
    if not re.fullmatch(r"[0-9]{1,3}", value) or int(value) >= NUM_CLASSES:
        raise InvalidInput(f"Expected class to be a class index from 0 to {NUM_CLASSES - 1}. Received {value[:40]!r}")
    return int(value)


@require_safe
@handles_errors()
def permalink(request: HttpRequest, entry_id: UUID) -> HttpResponse:
    """The result page of a stored classification; `?fragment=1` is the result alone, for upload.js."""
    entry = get_object_or_404(HistoryEntry, id=entry_id)
    class_index = explained_class(request)
    spec = SPECS_BY_NAME.get(entry.model)
    model_label = spec.label if spec else entry.model
    custom = spec is None and entry.model not in serving.get_registry().names
    predictions = entry.prediction_objects()
    timings_ms = dict(entry.timings_ms)
    explanation, explain_error = None, ""
    try:
        explanation = explain_entry(pipeline=serving.get_pipeline(), entry=entry, class_index=class_index)
    except RecognizerError as error:  # e.g. the model is offline now: the result still shows, unexplained
        explain_error = str(error)
    else:
        timings_ms.update(explanation.timings_ms)
        timings_ms["total"] += sum(explanation.timings_ms.values())
    with timed(timings_ms, "chart"):
        chart = chart_image(predictions, title=f"{model_label}: top {len(predictions)}")
    timings_ms["total"] += timings_ms["chart"]
    thumbnail = read_thumbnail(entry)  # removed by hand: the result still shows, without its picture
    model_input = read_model_input(entry)
    shown_input = _shown_model_input(model_input, explanation) if model_input else b""
    top_score = predictions[0].score if predictions else 0.0
    context = {
        "result": entry,
        "model_label": model_label,
        "custom_model": custom,
        "label_space": f"classes of the custom model {entry.model}" if custom else "1000 ImageNet classes",
        "chart": chart,
        "thumbnail_uri": data_uri(thumbnail, mime="image/jpeg") if thumbnail else "",
        "model_input_uri": data_uri(shown_input, mime="image/png") if shown_input else "",
        "input_size": spec.input_size if spec else "",
        "explanation": explanation,
        "explained_label": _label_of(entry, explanation.class_index) if explanation else "",
        "overlay_uri": data_uri(explanation.overlay, mime="image/png") if explanation else "",
        "explain_error": explain_error,
        "show_hedge": bool(entry.hedge) and top_score < CLASS_THRESHOLD,
        "class_threshold": CLASS_THRESHOLD,
        "timings": [(stage, timings_ms[stage]) for stage in TIMED_STAGES if stage in timings_ms],
        "permalink": request.build_absolute_uri(reverse("recognizer:permalink", args=[entry.id])),
        "permalink_path": reverse("recognizer:permalink", args=[entry.id]),
    }
    if request.GET.get("fragment") == "1":
        return render(request, "recognizer/result_fragment.html", context)
    context["form"] = upload_form(request, serving.get_registry())
    return render(request, "recognizer/result.html", context)


def _shown_model_input(stored: bytes, explanation: Explanation | None) -> bytes:
    """The PNG of what the model saw: the explanation's, or made from the stored pixels (none if they are damaged)."""
    if explanation is not None:
        return explanation.model_input
    try:
        return model_input_png(stored)
    except InvalidInput:
        return b""


def _label_of(entry: HistoryEntry, class_index: int) -> str:
    """The explained class's name in the entry's model's label space (ImageNet, or a custom model's own)."""
    return serving.get_registry().get(entry.model).labels.label(class_index)


@require_safe
def about(request: HttpRequest) -> HttpResponse:
    registry = serving.get_registry()
    models = [(registry.spec(status.name), status) for status in registry.statuses()]
    requester = Requester.from_request(request)
    custom = [(model, requester.owns(model)) for model in visible(requester).defer("head")]
    return render(request, "recognizer/about.html", {"models": models, "custom_models": custom})
