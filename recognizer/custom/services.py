"""Custom models: create one from checked photos and queue its training, train it again, find the owner's.

A model and all its photos are stored in one transaction, and its training is queued only once that has
committed, so a worker never sees a half-stored set and a refused request leaves no row. The owner is
the browser session that trained it (pages) or the holder of the token the API returned (only its
SHA-256 is kept).
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction

from recognizer import serving
from recognizer.custom.access import Requester, owned
from recognizer.custom.errors import CustomModelNotFound, ModelNameTaken, NotRestartable
from recognizer.custom.lifecycle import check_new_name
from recognizer.custom.models import CustomModel, TrainingPhoto
from recognizer.custom.photos import LabelledPhoto
from recognizer.custom.tasks import train_custom_model
from recognizer.custom.training_set import TrainingLimits
from recognizer.inference.errors import InvalidInput, shown
from recognizer.jobs.celery import ensure_broker_folders

# Backbones whose pooled features a head can be trained on, the default first.
BACKBONES = ("efficientnet_lite0", "resnet50", "vgg19")
DEFAULT_BACKBONE = BACKBONES[0]
ROWS_PER_INSERT = 64


def training_limits() -> TrainingLimits:
    return TrainingLimits(
        max_classes=settings.IMGREC_CUSTOM_MAX_CLASSES,
        max_photos=settings.IMGREC_CUSTOM_MAX_PHOTOS,
        max_pixels=settings.IMGREC_MAX_PIXELS,
    )


def ready_backbones() -> list[str]:
    """The trainable backbones this server has enabled and can use (ready, or loaded on first use)."""
    registry = serving.get_registry()
    usable = {status.name for status in registry.statuses() if status.usable}
    return [name for name in BACKBONES if name in usable]


def checked_backbone(backbone: str) -> str:
    ready = ready_backbones()
    if backbone not in ready:
        kind = "a backbone that is not ready" if backbone in BACKBONES else "an unknown backbone"
        raise InvalidInput(f"Expected a backbone among {ready}. Received {kind}: {shown(backbone)}")
    return backbone


def create_custom_model(
    *,
    name: str,
    backbone: str,
    photos: Sequence[LabelledPhoto],
    public: bool,
    session_key: str = "",
    token_sha256: str = "",
) -> CustomModel:
    """Store the model (training, queued) and its photos, then queue its training. The photos must have
    passed training_set.check_training_set; the name and backbone are checked here."""
    name, backbone = check_new_name(name), checked_backbone(backbone)
    try:
        with transaction.atomic():
            model = CustomModel.objects.create(
                name=name,
                backbone=backbone,
                classes=sorted({photo.label for photo in photos}),
                public=public,
                session_key=session_key,
                token_sha256=token_sha256,
                facts={"attempt": 1, "photos": len(photos)},
            )
            _store_photos(model, photos)
            transaction.on_commit(lambda: queue_training(model))
    except IntegrityError:  # the same name created at the same moment by someone else
        raise ModelNameTaken(f"Expected a name no other model has. Received {shown(name)}, which is taken") from None
    return model


def _store_photos(model: CustomModel, photos: Sequence[LabelledPhoto]) -> None:
    for start in range(0, len(photos), ROWS_PER_INSERT):
        TrainingPhoto.objects.bulk_create(
            TrainingPhoto(model=model, index=index, label=photo.label, name=photo.name[-255:], sha256=photo.sha256,
                          data=photo.data)
            for index, photo in enumerate(photos[start : start + ROWS_PER_INSERT], start=start)
        )  # fmt: skip


def queue_training(model: CustomModel) -> None:
    ensure_broker_folders()
    train_custom_model.delay(str(model.id), int(model.facts["attempt"]))


def train_again(model: CustomModel) -> CustomModel:
    """Start over from the stored photos: a failed model, or one whose training stopped (a killed worker).
    The run under way, if any, is superseded (its writes carry the old attempt and are refused)."""
    if model.state == CustomModel.READY:
        raise NotRestartable(
            f"Expected a model whose training failed or did not finish. Received {shown(model.name)}, which is "
            "ready (its training photos are no longer kept)"
        )
    attempt = int(model.facts.get("attempt", 1)) + 1
    with transaction.atomic():
        updated = CustomModel.objects.filter(id=model.id, state__in=[CustomModel.TRAINING, CustomModel.FAILED]).update(
            state=CustomModel.TRAINING,
            stage="queued",
            reason="",
            epochs=[],
            head=b"",
            validation={},
            facts={"attempt": attempt, "photos": model.facts.get("photos", 0)},
            started_at=None,
            finished_at=None,
        )
        if not updated:
            raise NotRestartable(
                f"Expected a model whose training failed or did not finish. Received {shown(model.name)}"
            )
        model.refresh_from_db()
        transaction.on_commit(lambda: queue_training(model))
    return model


def owned_model(*, model_id: UUID | str | None = None, name: str | None = None, session_key: str | None,
                token: str | None) -> CustomModel:  # fmt: skip
    """The requester's model by id or name; anyone else's is not found, as one that does not exist."""
    lookup = {"id": model_id} if model_id is not None else {"name": name}
    model = CustomModel.objects.filter(**lookup).defer("head").first()
    requester = Requester(session_key=session_key or "", token_sha256=CustomModel.hash_token(token) if token else "")
    if model is None or not requester.owns(model):
        raise CustomModelNotFound(f"Expected the name of one of your custom models. Received {shown(name or model_id)}")
    return model


def session_models(*, session_key: str | None) -> list[CustomModel]:
    return list(owned(Requester(session_key=session_key or "")).defer("head")[:50])
