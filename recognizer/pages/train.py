"""The Train page: /train/ (a name, a backbone, and a zip of one folder per class or one drop box per
class -> a custom model training on a worker) and /train/<id>/ (its progress: stage, epoch, the loss and
validation accuracy chart; then its result: accuracy, confusion matrix, precision and recall per class,
class balance, time). Only the browser session that trained a model sees its pages; anyone else gets 404.
Without JavaScript the model's page refreshes itself while it trains; train.js polls its status instead
and redraws the chart as each epoch comes."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from recognizer import serving
from recognizer.custom import lifecycle, services
from recognizer.custom.errors import TooManyPhotos
from recognizer.custom.models import CustomModel
from recognizer.custom.training_set import MIN_PHOTOS_PER_CLASS
from recognizer.custom.uploads import photos_from_class_uploads, photos_from_zip_upload
from recognizer.history.sessions import session_key_of
from recognizer.inference.errors import InvalidInput, RecognizerError
from recognizer.ops.ratelimit import rate_limit
from recognizer.ops.responses import handles_errors
from recognizer.ops.uploads import job_upload
from recognizer.pages.training_charts import (
    confusion_alt_text,
    confusion_chart_svg,
    progress_alt_text,
    progress_chart_svg,
)

REFRESH_S = 3
CLASS_BOXES = 2  # drop boxes on the page as served; train.js adds more
_CLASS_FIELD = re.compile(r"class_name_([0-9]{1,3})")


def _render_form(request: HttpRequest, *, fields: Any = None, error: RecognizerError | None = None) -> HttpResponse:
    registry = serving.get_registry()
    ready = services.ready_backbones()
    fields = fields or {}
    context = {
        "error": error,
        "backbones": [(name, registry.spec(name).label) for name in ready],
        "chosen_backbone": fields.get("backbone") or services.DEFAULT_BACKBONE,
        "name": fields.get("name", ""),
        "public": fields.get("public") == "true",
        "boxes": range(1, CLASS_BOXES + 1),
        "min_photos": MIN_PHOTOS_PER_CLASS,
        "max_classes": settings.IMGREC_CUSTOM_MAX_CLASSES,
        "max_photos": settings.IMGREC_CUSTOM_MAX_PHOTOS,
        "max_archive_mb": settings.IMGREC_ARCHIVE_MAX_MB,
        "models": services.session_models(session_key=request.session.session_key),
    }
    return render(request, "recognizer/train.html", context, status=error.status if error else 200)


def _train_error_page(request: HttpRequest, error: RecognizerError) -> HttpResponse:
    return _render_form(request, fields=request.POST, error=error)


@require_http_methods(["GET", "POST"])
@rate_limit("classify")
@handles_errors(page=_train_error_page)
def train(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _render_form(request)
    fields, files = job_upload(request)
    try:
        backbone = services.checked_backbone(fields.get("backbone") or services.DEFAULT_BACKBONE)
        name = lifecycle.check_new_name(fields.get("name", "").strip())
        archive = files.get("archive") if files.get("archive") and files["archive"].name else None
        boxes = _class_boxes(fields, files)
        if archive is not None and any(photos for _, photos in boxes):
            raise InvalidInput("Expected either a .zip or photos in the class boxes. Received both")
        if archive is not None:
            photos = photos_from_zip_upload(archive)
        elif any(photos for _, photos in boxes):
            photos = photos_from_class_uploads(boxes, max_photo_bytes=settings.IMGREC_MAX_UPLOAD_BYTES)
        else:
            raise InvalidInput(
                "Expected a .zip of one folder per class, or photos in the class boxes. Received neither"
            )
    finally:
        for field in files:
            for upload in files.getlist(field):
                upload.close()  # a temporary upload file is deleted when closed
    model = services.create_custom_model(
        name=name,
        backbone=backbone,
        photos=photos,
        public=fields.get("public") == "true",
        session_key=session_key_of(request, create=True) or "",
    )
    return HttpResponseRedirect(reverse("recognizer:train_model", args=[model.id]), status=303)


def _class_boxes(fields: Any, files: Any) -> list[tuple[str, list[Any]]]:
    numbers = sorted(int(match[1]) for key in fields if (match := _CLASS_FIELD.fullmatch(key)))
    if len(numbers) > settings.IMGREC_CUSTOM_MAX_CLASSES + CLASS_BOXES:
        raise TooManyPhotos(
            f"Expected at most {settings.IMGREC_CUSTOM_MAX_CLASSES} classes. Received {len(numbers)} class boxes"
        )
    return [
        (fields.get(f"class_name_{number}", ""), _chosen(files.getlist(f"class_photos_{number}"))) for number in numbers
    ]


def _chosen(files: list[Any]) -> list[Any]:
    """The files of a box; an empty file input still sends one part without a name."""
    return [file for file in files if file.name]


def _owned_or_404(request: HttpRequest, model_id: UUID) -> CustomModel:
    try:
        return services.owned_model(model_id=model_id, session_key=request.session.session_key, token=None)
    except RecognizerError:
        raise Http404("Expected the id of one of your custom models. Received another") from None


def model_status(model: CustomModel) -> dict[str, Any]:
    """What the model's page shows while it trains (and train.js polls)."""
    last = model.epochs[-1] if model.epochs else None
    return {
        "state": model.state,
        "stage": model.stage,
        "epoch": last["epoch"] if last else 0,
        "loss": last["loss"] if last else None,
        "val_accuracy": last["val_accuracy"] if last else None,
        "features_done": model.facts.get("features_done", 0),
        "photos": model.facts.get("photos", 0),
        "reason": model.reason,
    }


@require_GET
def train_model(request: HttpRequest, model_id: UUID) -> HttpResponse:
    model = _owned_or_404(request, model_id)
    validation = model.validation or {}
    per_class = [
        (label, validation["per_class"][label], model.class_balance.get(label, 0))
        for label in model.classes
        if validation
    ]
    seconds = model.facts.get("seconds", {})
    context = {
        "model": model,
        "status": model_status(model),
        "training": model.state == CustomModel.TRAINING,
        "refresh_s": REFRESH_S,
        "progress_alt": progress_alt_text(model.epochs),
        "confusion_alt": confusion_alt_text(validation["confusion"], model.classes) if validation else "",
        "per_class": per_class,
        "validation_photos": sum(scores["support"] for _, scores, _ in per_class),
        "seconds_total": round(sum(seconds.values()), 1) if seconds else None,
        "seconds": seconds,
    }
    return render(request, "recognizer/train_model.html", context)


@require_GET
def train_status(request: HttpRequest, model_id: UUID) -> JsonResponse:
    return JsonResponse(model_status(_owned_or_404(request, model_id)))


@require_GET
def train_progress_chart(request: HttpRequest, model_id: UUID) -> HttpResponse:
    model = _owned_or_404(request, model_id)
    return _svg_response(progress_chart_svg(model.epochs))


@require_GET
def train_confusion_chart(request: HttpRequest, model_id: UUID) -> HttpResponse:
    model = _owned_or_404(request, model_id)
    if not model.validation:
        raise Http404("No confusion matrix before the model is trained")
    return _svg_response(confusion_chart_svg(model.validation["confusion"], model.classes))


@require_http_methods(["POST"])
@handles_errors()
def train_again(request: HttpRequest, model_id: UUID) -> HttpResponse:
    services.train_again(_owned_or_404(request, model_id))
    return HttpResponseRedirect(reverse("recognizer:train_model", args=[model_id]), status=303)


def _svg_response(svg: bytes) -> HttpResponse:
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Cache-Control"] = "private, no-cache"
    return response
