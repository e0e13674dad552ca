"""Run one chunk of a job through the inference core, writing each image's result exactly once.

The chunk's images go through `inference.batch.classify_many` with thumbnails: two threads decode ahead while
the model's batching engine runs full batches. Results are written in order, WRITE_GROUP to a statement
(`bulk.write_results`), each only if its image is not processed yet: a chunk run twice (its worker was
killed and the broker redelivered it, or two workers got it) skips what is written and never writes an image
twice; a killed worker loses at most the results of one unwritten group, which the redelivered chunk
classifies again.
"""

from __future__ import annotations

from uuid import UUID

from django.utils import timezone

from recognizer.inference.batch import ItemResult, classify_many
from recognizer.inference.pipeline import Pipeline
from recognizer.jobs.bulk import Outcome, pending_images, write_results
from recognizer.jobs.models import Job, JobImage

WRITE_GROUP = 16  # results written per transaction


def run_chunk(*, pipeline: Pipeline, job_id: UUID | str, start: int, stop: int) -> int:
    """Classify the chunk's unprocessed images [start, stop); returns how many results were written here.

    Raises the RecognizerError of a server-side failure (a model not ready, a failed batch, a timeout),
    for the task to retry; an image's own fault (not a photo, too large) is that image's error.
    """
    job = Job.objects.filter(id=job_id).first()
    if job is None or job.state in Job.FINISHED:
        return 0
    Job.objects.filter(id=job.id, state=Job.QUEUED).update(state=Job.RUNNING, started_at=timezone.now())
    work = [(str(image_id), data) for image_id, data in pending_images(job.id, start, stop)]
    results = classify_many(
        pipeline, work, model_name=job.model, top_k=job.top_k, thumbnails=True, raise_server_faults=True
    )
    written = 0
    done: list[Outcome] = []
    try:
        for result in results:
            done.append(_outcome(result))
            if len(done) == WRITE_GROUP:
                written += write_results(done)
                done = []
    finally:
        written += write_results(done)  # what was classified is kept even when a server fault ends the chunk
    finish_if_complete(job.id)
    return written


def _outcome(result: ItemResult) -> Outcome:
    image_id = int(result.name)
    if result.classification is None:
        return Outcome(image_id, error=result.error or "")
    classification = result.classification
    return Outcome(
        image_id,
        predictions=[prediction.as_dict() for prediction in classification.predictions],
        thumbnail=classification.thumbnail,
    )


def finish_if_complete(job_id: UUID | str) -> None:
    if not JobImage.objects.filter(job_id=job_id, processed=False).exists():
        Job.objects.filter(id=job_id, state__in=[Job.QUEUED, Job.RUNNING]).update(
            state=Job.DONE, finished_at=timezone.now()
        )


def fail_job(job_id: UUID | str, reason: str) -> None:
    Job.objects.filter(id=job_id, state__in=[Job.QUEUED, Job.RUNNING]).update(
        state=Job.FAILED, reason=reason, finished_at=timezone.now()
    )
