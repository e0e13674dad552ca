"""A model taught by a user (a custom model), its training photos and the feature cache.

The rows are the truth, as for batch jobs: every app node and worker reads a custom model's head from the
database (`head`, a `.keras` file's bytes) and runs it on its backbone, which the registry already holds.
"""

from __future__ import annotations

import hashlib
import uuid

from django.db import models
from django.utils import timezone


class CustomModel(models.Model):
    TRAINING, READY, FAILED = "training", "ready", "failed"
    STATES = [(state, state) for state in (TRAINING, READY, FAILED)]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Unique on the server, and never the name of a catalogue model (checked where one is created).
    name = models.CharField(max_length=64, unique=True)
    backbone = models.CharField(max_length=64)
    # The backbone's weights when the head was trained: a head is only valid on those weights.
    backbone_fingerprint = models.CharField(max_length=64, blank=True)
    classes = models.JSONField(default=list)
    state = models.CharField(max_length=16, choices=STATES, default=TRAINING)
    reason = models.TextField(blank=True)  # why training failed
    public = models.BooleanField(default=False)
    # The owner: the browser session that trained it on the pages, or the holder of the API token
    # (only its SHA-256 is kept). Either may be empty, not both.
    session_key = models.CharField(max_length=40, blank=True, db_index=True)
    token_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    # The trained head as a `.keras` file; empty until training is done.
    head = models.BinaryField(default=b"")
    # Progress while training: stage ("queued", "features", "training", "saving", ...) and one row per
    # epoch ({"epoch", "loss", "val_loss", "val_accuracy"}).
    stage = models.CharField(max_length=32, default="queued")
    epochs = models.JSONField(default=list)
    # Once ready: {"accuracy", "per_class": {label: {"precision", "recall", "support"}}, "confusion"}.
    validation = models.JSONField(default=dict)
    class_balance = models.JSONField(default=dict)  # label -> number of photos
    facts = models.JSONField(default=dict)  # seconds per stage, epochs run, photos, ...
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "recognizer"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"custom model {self.name} ({self.backbone}, {len(self.classes)} classes, {self.state})"

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()


class TrainingPhoto(models.Model):
    """One labelled photo of a custom model's training set. Its bytes stay until training succeeds (a
    killed training can be started again from them), then they are dropped."""

    model = models.ForeignKey(CustomModel, on_delete=models.CASCADE, related_name="photos")
    index = models.PositiveIntegerField()
    label = models.CharField(max_length=64)
    name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    data = models.BinaryField(default=b"")

    class Meta:
        app_label = "recognizer"
        ordering = ["index"]
        constraints = [models.UniqueConstraint(fields=["model", "index"], name="training_photo_unique_index")]


class FeatureVector(models.Model):
    """Pooled backbone features of one photo and its augmented copies, keyed by the photo's content hash
    and the backbone's weights fingerprint: a photo in several trainings goes through the backbone once."""

    key = models.CharField(max_length=160, unique=True)  # "<backbone fingerprint>:<photo sha256>"
    shape = models.JSONField()  # [copies, features]
    vectors = models.BinaryField()  # float32, C order
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "recognizer"
