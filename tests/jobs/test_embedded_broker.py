"""The embedded broker of `make run` (kombu's filesystem transport): a worker that starts finds the chunks
an earlier worker lost and runs them, since that transport has no acknowledgements to give them back."""

from __future__ import annotations

from pathlib import Path

import redis
from django.test import Client

from recognizer.jobs.models import Job
from tests.jobs.conftest import StartWorker
from tests.jobs.helpers import jpeg, submit, upload, wait_for


def test_a_worker_on_the_filesystem_broker_finishes_jobs_whose_chunks_were_lost(
    start_worker: StartWorker, broker: str, tmp_path: Path
) -> None:
    client = Client()
    created = submit(client, images=[upload(f"{index}.jpg", jpeg(index)) for index in range(6)]).json()
    redis.Redis.from_url(broker).flushdb()  # every queued chunk lost, as with a worker killed mid-job
    assert Job.objects.get(id=created["id"]).state == Job.QUEUED

    start_worker(IMGREC_BROKER_URL="filesystem://", IMGREC_BROKER_DIR=str(tmp_path / "broker"))
    status = wait_for(client, created["status_url"])

    assert (status["state"], status["done"], status["failed"]) == ("done", 6, 0)
