"""A batch job and its images. The rows are the truth: progress is counted from them, so any web node
(restarted or not) and any worker see the same state; the broker only carries which chunk to run."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class Job(models.Model):
    QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
    STATES = [(state, state) for state in (QUEUED, RUNNING, DONE, FAILED, CANCELLED)]
    FINISHED = (DONE, FAILED, CANCELLED)

    # A random UUID4: holding the link is the permission, as for a history entry.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session_key = models.CharField(max_length=40, blank=True, db_index=True)
    model = models.CharField(max_length=64)
    top_k = models.PositiveSmallIntegerField()
    state = models.CharField(max_length=16, choices=STATES, default=QUEUED)
    reason = models.TextField(blank=True)  # why a job failed
    total = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "recognizer"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"job {self.id} ({self.model}, {self.total} images, {self.state})"


class JobImage(models.Model):
    """One image of a job, in submission order (`index`). Its bytes are kept until it is processed, then
    dropped; exactly one of `predictions` and `error` is set once `processed` is true."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="images")
    index = models.PositiveIntegerField()
    name = models.CharField(max_length=255)
    data = models.BinaryField(default=b"")
    processed = models.BooleanField(default=False)
    predictions = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    thumbnail = models.BinaryField(default=b"")

    class Meta:
        app_label = "recognizer"
        ordering = ["index"]
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="job_image_unique_index")]
        indexes = [models.Index(fields=["job", "processed"], name="job_image_progress")]

    @property
    def top_label(self) -> str:
        return self.predictions[0]["label"] if self.predictions else ""

    @property
    def top_score(self) -> float:
        return self.predictions[0]["score"] if self.predictions else 0.0
