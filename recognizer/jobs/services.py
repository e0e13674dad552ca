"""Batch jobs: create one from uploaded photos and/or a zip, read its progress and results, cancel it.

A job's images are stored as rows before any chunk is queued (after the transaction commits), so a
worker never sees a chunk whose images are not there. Progress is counted from the rows.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from recognizer import serving
from recognizer.custom.models import CustomModel
from recognizer.inference.errors import ImageTooLarge, InvalidInput, ModelNotFound
from recognizer.jobs.archives import MIB, ArchiveLimits, open_archive
from recognizer.jobs.celery import ensure_broker_folders
from recognizer.jobs.errors import JobNotFound
from recognizer.jobs.models import Job, JobImage
from recognizer.jobs.tasks import run_chunk

ROWS_PER_INSERT = 64
RESULTS_PER_PAGE = 100
MAX_RESULTS_PER_PAGE = 1000


@dataclass(frozen=True)
class Progress:
    done: int
    failed: int

    @property
    def finished(self) -> int:
        return self.done + self.failed


def archive_limits() -> ArchiveLimits:
    return ArchiveLimits(
        max_upload_bytes=settings.IMGREC_ARCHIVE_MAX_MB * MIB,
        max_entries=settings.IMGREC_ARCHIVE_MAX_ENTRIES,
        max_total_bytes=settings.IMGREC_ARCHIVE_MAX_TOTAL_MB * MIB,
        max_entry_bytes=settings.IMGREC_MAX_UPLOAD_BYTES,
        max_ratio=settings.IMGREC_ARCHIVE_MAX_RATIO,
    )


def checked_model_name(model_name: str) -> str:
    """A catalogue model, or a ready custom model (whose access the view checked: api.jobs, pages.batch)."""
    names = serving.get_registry().names
    if model_name not in names and not CustomModel.objects.filter(name=model_name, state=CustomModel.READY).exists():
        raise ModelNotFound(f"Unknown model. Expected one of {names}. Received: {model_name!r}")
    return model_name


@dataclass(frozen=True)
class Photo:
    """A photo as submitted: a label and its bytes, or why it could not be read (from an archive)."""

    name: str
    data: bytes | None
    error: str | None = None


def create_job(
    *,
    model_name: str,
    top_k: int,
    session_key: str,
    photos: Iterable[Photo],
    archive_path: str | os.PathLike[str] | None = None,
) -> Job:
    """Store the job and its images, then queue its chunks. Raises before anything is stored or queued:
    ModelNotFound (404), InvalidInput (400, no images), ArchiveRefused (4xx) or ImageTooLarge (413)."""
    model_name = checked_model_name(model_name)
    with transaction.atomic():
        job = Job.objects.create(model=model_name, top_k=top_k, session_key=session_key)
        total = _store_images(job, _all_photos(photos, archive_path))
        if total == 0:
            raise InvalidInput(
                "Expected at least one photo in 'images' or in the 'archive'. Received none that could be listed"
            )
        job.total = total
        job.save(update_fields=["total"])
        transaction.on_commit(lambda: _queue_chunks(job))
    return job


def _all_photos(photos: Iterable[Photo], archive_path: str | os.PathLike[str] | None) -> Iterator[Photo]:
    yield from photos
    if archive_path is not None:
        with open_archive(archive_path, archive_limits()) as archive:
            for entry in archive.entries():
                yield Photo(name=entry.name, data=entry.data, error=entry.error)


def _store_images(job: Job, photos: Iterable[Photo]) -> int:
    limit = settings.IMGREC_ARCHIVE_MAX_ENTRIES
    names = _UniqueNames()
    rows: list[JobImage] = []
    count = 0
    for photo in photos:
        if count == limit:
            raise ImageTooLarge(f"Expected at most {limit:,} photos in one job. Received more")
        rows.append(
            JobImage(
                job=job,
                index=count,
                name=names.claim(photo.name[-255:] or f"image {count + 1}"),
                data=photo.data or b"",
                processed=photo.error is not None,
                error=photo.error or "",
            )
        )
        count += 1
        if len(rows) == ROWS_PER_INSERT:
            JobImage.objects.bulk_create(rows)
            rows = []
    JobImage.objects.bulk_create(rows)
    return count


class _UniqueNames:
    """Two photos called `a.jpg` stay apart as `a.jpg` and `a (2).jpg`."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def claim(self, name: str) -> str:
        candidate, copy = name, 1
        stem, dot, suffix = name.rpartition(".")
        while candidate in self._taken:
            copy += 1
            candidate = f"{stem} ({copy}).{suffix}" if dot and stem else f"{name} ({copy})"
        self._taken.add(candidate)
        return candidate


def _queue_chunks(job: Job) -> None:
    ensure_broker_folders()
    size = settings.IMGREC_JOB_CHUNK
    for start in range(0, job.total, size):
        run_chunk.delay(str(job.id), start, min(start + size, job.total))


def requeue_unfinished_jobs() -> int:
    """Queue again every chunk of a queued or running job that still has unprocessed images; returns how
    many. For the embedded filesystem broker, which loses the chunk its worker was running when that
    worker was killed: the worker calls this as it starts. A chunk queued twice is harmless (each result
    is written once), only some wasted lookups."""
    ensure_broker_folders()
    size = settings.IMGREC_JOB_CHUNK
    queued = 0
    for job in Job.objects.filter(state__in=[Job.QUEUED, Job.RUNNING]).only("id", "total"):
        pending = JobImage.objects.filter(job=job, processed=False).values_list("index", flat=True)
        for start in sorted({index // size * size for index in pending}):
            run_chunk.delay(str(job.id), start, min(start + size, job.total))
            queued += 1
    return queued


def job_progress(job: Job) -> Progress:
    counts = JobImage.objects.filter(job=job, processed=True).aggregate(
        finished=Count("id"), failed=Count("id", filter=~Q(error=""))
    )
    return Progress(done=counts["finished"] - counts["failed"], failed=counts["failed"])


def images_per_s(job: Job, progress: Progress) -> float:
    if job.started_at is None or progress.finished == 0:
        return 0.0
    elapsed = ((job.finished_at or timezone.now()) - job.started_at).total_seconds()
    return round(progress.finished / elapsed, 2) if elapsed > 0 else 0.0


def job_status(job: Job) -> dict[str, Any]:
    progress = job_progress(job)
    return {
        "id": str(job.id),
        "state": job.state,
        "model": job.model,
        "top_k": job.top_k,
        "total": job.total,
        "done": progress.done,
        "failed": progress.failed,
        "images_per_s": images_per_s(job, progress),
    }


def job_results(job: Job, *, offset: int, limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """Finished results in submission order from `offset`; the next offset, or None past the last image."""
    rows = JobImage.objects.filter(job=job, index__gte=offset).order_by("index")[:limit]
    results: list[dict[str, Any]] = []
    for image in rows.only("index", "name", "processed", "predictions", "error"):
        if not image.processed:
            break  # in order: a later result is given once every earlier one is
        results.append({"name": image.name, "error": image.error} if image.error else image_result(image))
    next_offset = offset + len(results)
    return results, (next_offset if next_offset < job.total else None)


def image_result(image: JobImage) -> dict[str, Any]:
    return {"name": image.name, "predictions": image.predictions}


def get_job(job_id: UUID | str) -> Job:
    try:
        return Job.objects.get(id=UUID(str(job_id)))
    except (Job.DoesNotExist, ValueError):
        raise JobNotFound(f"Expected the id of an existing job. Received {str(job_id)!r}") from None


def cancel_job(job: Job) -> Job:
    """Queued or running -> cancelled; chunks not yet run skip. A finished job stays as it is."""
    Job.objects.filter(id=job.id, state__in=[Job.QUEUED, Job.RUNNING]).update(
        state=Job.CANCELLED, finished_at=timezone.now()
    )
    job.refresh_from_db()
    return job


def session_jobs(*, session_key: str | None) -> list[Job]:
    if not session_key:
        return []
    return list(Job.objects.filter(session_key=session_key)[:50])
