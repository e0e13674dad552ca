"""Celery tasks. A chunk is acknowledged only after it ran (`acks_late`), and requeued if its worker
dies (`reject_on_worker_lost`); the runner's idempotent writes make running it again harmless."""

from __future__ import annotations

from typing import Any

from recognizer import serving
from recognizer.inference.errors import RecognizerError
from recognizer.jobs import runner
from recognizer.jobs.celery import app

MAX_RETRIES = 5
RETRY_AFTER_S = 5


@app.task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=MAX_RETRIES, ignore_result=True)
def run_chunk(self: Any, job_id: str, start: int, stop: int) -> int:
    try:
        return runner.run_chunk(pipeline=serving.get_pipeline(), job_id=job_id, start=start, stop=stop)
    except RecognizerError as error:
        if self.request.retries >= MAX_RETRIES:
            runner.fail_job(job_id, str(error))
            return 0
        raise self.retry(exc=error, countdown=RETRY_AFTER_S) from None
