"""Run one chunk of a job through the inference core, writing each image's result exactly once.

The chunk's images are all submitted at once to the process's thread pool, so they decode in parallel while
the model's batching engine runs full batches. Results are written as they come, WRITE_GROUP to a transaction,
each with `processed=False` in the update's filter: a chunk run twice (its worker was killed and the broker
redelivered it, or two workers got it) skips what is written and never writes an image twice; a killed worker
loses at most the results of one unwritten group, which the redelivered chunk classifies again.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from recognizer.inference.errors import RecognizerError
from recognizer.inference.pipeline import Pipeline
from recognizer.jobs.models import Job, JobImage

SERVER_FAULT = 500
WRITE_GROUP = 16  # results written per transaction


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
    pool = _pool(max(1, concurrency))
    futures = {pool.submit(_classify, pipeline, bytes(data), job.model, job.top_k): image_id for image_id, data in work}
    written = 0
    done: list[tuple[int, dict[str, Any]]] = []
    try:
        for future in as_completed(futures):
            done.append((futures[future], future.result()))
            if len(done) == WRITE_GROUP:
                written += _write(done)
                done = []
    except BaseException:
        for future in futures:
            future.cancel()  # the pool is shared: images not started yet are left to the task's retry
        raise
    finally:
        written += _write(done)  # what was classified is kept even when another image failed the chunk
    finish_if_complete(job.id)
    return written


@functools.cache
def _pool(workers: int) -> ThreadPoolExecutor:
    """One pool per worker process, reused by every chunk: starting a thread per image for each chunk was 8% of
    a worker's samples on a job of EfficientNet-Lite0 (docs/architecture.md, "Batch jobs, profiled")."""
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="imgrec-job")


def _write(results: list[tuple[int, dict[str, Any]]]) -> int:
    """Each image's result in one transaction: one commit for the group, not one per image."""
    if not results:
        return 0
    with transaction.atomic():
        return sum(
            JobImage.objects.filter(id=image_id, processed=False).update(processed=True, data=b"", **outcome)
            for image_id, outcome in results
        )


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
