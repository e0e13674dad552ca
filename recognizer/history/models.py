"""One stored classification: what a session uploaded (as a re-encoded thumbnail) and what came out."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from recognizer.inference.labels import Prediction


class HistoryEntry(models.Model):
    # A random UUID4 is the permalink: 122 random bits, so holding the link is the permission.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session_key = models.CharField(max_length=40, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    model = models.CharField(max_length=64)
    weights = models.CharField(max_length=16)
    weights_fingerprint = models.CharField(max_length=32, blank=True)
    top_k = models.PositiveSmallIntegerField()
    predictions = models.JSONField()
    timings_ms = models.JSONField()
    sha256 = models.CharField(max_length=64)
    thumbnail = models.FileField(upload_to="thumbnails/", max_length=200)
    cached = models.BooleanField(default=False)
    # The hedged answer ({"label", "class_id", "score"} or null) and "high" / "low"; "" before they existed.
    hedge = models.JSONField(null=True, blank=True)
    confidence = models.CharField(max_length=8, blank=True)
    # A PNG of exactly what the model saw (its input size, before normalisation): Grad-CAM runs from it.
    model_input = models.FileField(upload_to="model_inputs/", max_length=200, blank=True)

    class Meta:
        app_label = "recognizer"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["sha256", "model", "weights_fingerprint", "top_k"], name="history_result_cache_key")
        ]
        verbose_name_plural = "history entries"

    def __str__(self) -> str:
        return f"{self.model}: {self.top_label} ({self.created_at:%Y-%m-%d %H:%M})"

    @property
    def top_label(self) -> str:
        return self.predictions[0]["label"] if self.predictions else ""

    def prediction_objects(self) -> list[Prediction]:
        return [Prediction(**prediction) for prediction in self.predictions]
