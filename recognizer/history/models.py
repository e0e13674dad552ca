"""One stored classification: what a session uploaded (as a re-encoded thumbnail) and what came out.

Thumbnails live in the database, keyed by their content hash, so every app node reads the same ones
(no shared disk) and identical pictures are stored once (docs/operations.md, "Scaling out").
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from recognizer.inference.labels import Prediction


class Thumbnail(models.Model):
    sha256 = models.CharField(primary_key=True, max_length=64)  # of the JPEG bytes themselves
    jpeg = models.BinaryField()

    class Meta:
        app_label = "recognizer"

    def __str__(self) -> str:
        return f"thumbnail {self.sha256[:12]}"


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
    # Shared by the entries of identical pictures; deleted with the last of them (history/store.py).
    # Null only for an entry whose picture was already gone when thumbnails moved into the database.
    thumbnail = models.ForeignKey(Thumbnail, null=True, on_delete=models.PROTECT, related_name="entries")
    cached = models.BooleanField(default=False)
    # The hedged answer ({"label", "class_id", "score"} or null) and "high" / "low"; "" before they existed.
    hedge = models.JSONField(null=True, blank=True)
    confidence = models.CharField(max_length=8, blank=True)
    # A PNG of exactly what the model saw (its input size, before normalisation): Grad-CAM runs from it.
    model_input = models.BinaryField(blank=True, default=b"")

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
