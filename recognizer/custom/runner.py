"""Train one custom model from its stored photos, writing its progress to its row as it goes.

Run by the Celery task (tasks.py) on a worker, whose registry holds the backbone. Each run carries the
attempt it was queued for (`facts["attempt"]`); every write is filtered on that attempt and on the state
`training`, so a run superseded by "train again" (or a redelivered copy of an old one) stops at its next
write instead of mixing its results into the new run's. The head, the state `ready` and the dropping of
the photos' bytes are written together at the very end: a run killed before that (kill -9 of the worker)
leaves the model `training` with no head and its photos kept, and the broker's redelivery or "train again"
starts over from them. An exception leaves it `failed` with the reason.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from recognizer.custom.errors import TrainingSetRefused
from recognizer.custom.feature_cache import DatabaseFeatureCache
from recognizer.custom.heads import head_bytes
from recognizer.custom.models import CustomModel, TrainingPhoto
from recognizer.custom.training import LabelledPhoto, TrainedHead, TrainingOptions, train_head
from recognizer.inference.errors import RecognizerError, shown
from recognizer.inference.imaging import decode_image
from recognizer.inference.registry import ModelRegistry

logger = logging.getLogger(__name__)

# Feature progress is written at most this often (one row update per photo would be wasted on small photos).
PROGRESS_EVERY_S = 0.5
# A JPEG is checked at a reduced DCT scale: what matters is that its data is whole, not its full pixels.
DECODE_CHECK_SIZE = 224


class Superseded(Exception):
    """This run's attempt is no longer the model's: it was trained again, deleted, or already finished."""


class _Run:
    """The writes of one attempt, each refused (Superseded) once the attempt is no longer current."""

    def __init__(self, model: CustomModel, attempt: int) -> None:
        self.model_id = model.id
        self.rows = CustomModel.objects.filter(id=model.id, state=CustomModel.TRAINING, facts__attempt=attempt)
        self.facts: dict[str, Any] = {"attempt": attempt, "photos": model.photos.count(), "features_done": 0}
        self.epochs: list[dict[str, float]] = []
        self._last_write = 0.0

    def update(self, **fields: Any) -> None:
        if not self.rows.update(**fields):
            raise Superseded()
        self._last_write = time.monotonic()

    def feature_read(self, _key: str) -> None:
        self.facts["features_done"] += 1
        last = self.facts["features_done"] == self.facts["photos"]
        if last or time.monotonic() - self._last_write > PROGRESS_EVERY_S:
            self.update(facts=self.facts)

    def epoch_done(self, epoch: int, loss: float, val_accuracy: float) -> None:
        self.epochs.append({"epoch": epoch, "loss": round(loss, 5), "val_accuracy": round(val_accuracy, 5)})
        self.update(stage="training", epochs=self.epochs)


def run_training(*, model_id: UUID | str, attempt: int, registry: ModelRegistry) -> bool:
    """Train the model's head if `attempt` is still its current one; True when this run made it ready."""
    model = CustomModel.objects.filter(id=model_id, state=CustomModel.TRAINING, facts__attempt=attempt).first()
    if model is None:
        return False
    run = _Run(model, attempt)
    try:
        run.update(stage="loading", epochs=[], head=b"", reason="", facts=run.facts, started_at=timezone.now())
        photos = [
            LabelledPhoto(label=label, name=name, data=bytes(data))
            for label, name, data in model.photos.order_by("index").values_list("label", "name", "data")
        ]
        _check_decodable(photos, max_pixels=settings.IMGREC_MAX_PIXELS)
        backbone = registry.get(model.backbone)
        run.update(stage="features")
        trained = train_head(
            photos,
            backbone=backbone,
            options=TrainingOptions(max_pixels=settings.IMGREC_MAX_PIXELS),
            feature_cache=DatabaseFeatureCache(on_read=run.feature_read),
            on_epoch=run.epoch_done,
        )
        run.update(stage="saving")
        _save_ready(run, trained, fingerprint=backbone.fingerprint)
        return True
    except Superseded:
        logger.info("Training of custom model %s (attempt %s) was superseded; stopped", model_id, attempt)
        return False
    except Exception as error:
        logger.exception("Training of custom model %s failed", model_id)
        run.rows.update(
            state=CustomModel.FAILED,
            stage="failed",
            reason=f"Training failed: {type(error).__name__}: {error}"[:2000],
            finished_at=timezone.now(),
        )
        return False


def _check_decodable(photos: list[LabelledPhoto], *, max_pixels: int) -> None:
    """Every photo decodes whole. The upload only read each header (cheap, in the request); a photo cut short
    after its header fails here, named, rather than as a decoder's message inside the training."""
    for photo in photos:
        try:
            decode_image(photo.data, max_pixels=max_pixels, target_size=DECODE_CHECK_SIZE)
        except RecognizerError as error:
            raise TrainingSetRefused(
                f"Expected photos that decode whole. Received {shown(photo.name)}: {error}"
            ) from None


def _save_ready(run: _Run, trained: TrainedHead, *, fingerprint: str) -> None:
    facts = {
        **run.facts,
        "epochs_run": len(trained.history),
        "seconds": {name: round(value, 2) for name, value in trained.seconds.items()},
    }
    with transaction.atomic():
        run.update(
            state=CustomModel.READY,
            stage="done",
            head=head_bytes(trained.head),
            classes=trained.classes,
            backbone_fingerprint=fingerprint,
            validation=trained.validation.as_dict(),
            class_balance=trained.class_balance,
            facts=facts,
            finished_at=timezone.now(),
        )
        # Kept until now so a killed run can start over; a ready model needs only its head.
        TrainingPhoto.objects.filter(model_id=run.model_id).update(data=b"")
