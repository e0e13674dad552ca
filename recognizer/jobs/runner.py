"""Run one chunk of a job through the inference core, writing each image's result exactly once.

The chunk's images are all submitted at once from a thread pool, so they decode in parallel while the
model's batching engine runs full batches. Each result is written with `processed=False` in the
update's filter: a chunk run twice (its worker was killed and the broker redelivered it, or two workers
got it) skips what is written and never writes an image twice.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any
from uuid import UUID

from django.utils import timezone

from recognizer.inference.errors import RecognizerError
from recognizer.inference.pipeline import Pipeline
from recognizer.jobs.models import Job, JobImage

SERVER_FAULT = 500


def run_chunk(*, pipeline: Pipeline, job_id: UUID | str, start: int, stop: int, concurrency: int) -> int:
    """Classify the chunk's unprocessed images [start, stop); returns how many results were written here.

    Raises the RecognizerError of a server-side failure (a model not ready, a failed batch, a timeout),
    for the task to retry; an image's own fault (not a photo, too large) is that image's error.
    """
    job = Job.objects.filter(id=job_id).first()
    if job is None or job.state in Job.FINISHED:
        return 0
    pipeline.registry.get(job.model)  # loaded here, once, before the threads ask for it all at once
    Job.objects.filter(id=job.id, state=Job.QUEUED).update(state=Job.RUNNING, started_at=timezone.now())
    pending = JobImage.objects.filter(job=job, index__gte=start, index__lt=stop, processed=False)
    work = list(pending.values_list("id", "data"))
    written = 0
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(work)))) as pool:
        futures = {
            pool.submit(_classify, pipeline, bytes(data), job.model, job.top_k): image_id for image_id, data in work
        }
        for future in as_completed(futures):
            outcome = future.result()
            written += JobImage.objects.filter(id=futures[future], processed=False).update(
                processed=True, data=b"", **outcome
            )
    finish_if_complete(job.id)
    return written


def _classify(pipeline: Pipeline, image_bytes: bytes, model_name: str, top_k: int) -> dict[str, Any]:
    try:
        result = pipeline.classify(image_bytes=image_bytes, model_name=model_name, top_k=top_k)
    except RecognizerError as error:
        if error.status >= SERVER_FAULT:
            raise
        return {"error": str(error)}
    return {"predictions": [prediction.as_dict() for prediction in result.predictions], "thumbnail": result.thumbnail}


def finish_if_complete(job_id: UUID | str) -> None:
    if not JobImage.objects.filter(job_id=job_id, processed=False).exists():
        Job.objects.filter(id=job_id, state__in=[Job.QUEUED, Job.RUNNING]).update(
            state=Job.DONE, finished_at=timezone.now()
        )


def fail_job(job_id: UUID | str, reason: str) -> None:
    Job.objects.filter(id=job_id, state__in=[Job.QUEUED, Job.RUNNING]).update(
        state=Job.FAILED, reason=reason, finished_at=timezone.now()
    )
