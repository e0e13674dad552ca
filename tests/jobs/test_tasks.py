"""Jobs run by real Celery worker processes on Redis and PostgreSQL: results, per-image errors, a worker
killed with SIGKILL in the middle of a job, cancel."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from recognizer.jobs.models import Job, JobImage
from tests.jobs.conftest import StartWorker
from tests.jobs.helpers import all_results, jpeg, submit, upload, wait_for, zip_of


@pytest.fixture
def client() -> Client:
    return Client()


def test_a_job_of_photos_and_a_zip_is_done_with_every_result_in_submission_order(
    client: Client, start_worker: StartWorker
) -> None:
    archive = zip_of([("trip/a.jpg", jpeg(1)), ("trip/broken.jpg", jpeg(2)[:300]), ("trip/b.jpg", jpeg(3))])
    response = submit(
        client,
        images=[upload("one.jpg", jpeg(4)), upload("two.jpg", jpeg(5)), upload("one.jpg", jpeg(6))],
        archive=upload("trip.zip", archive, "application/zip"),
    )
    assert response.status_code == 202, response.content
    created = response.json()
    assert created["total"] == 6 and created["state"] == "queued"
    start_worker()

    status = wait_for(client, created["status_url"])

    assert (status["state"], status["done"], status["failed"]) == ("done", 5, 1)
    assert status["images_per_s"] > 0
    results = all_results(client, created["results_url"])
    assert [result["name"] for result in results] == [
        "one.jpg", "two.jpg", "one (2).jpg", "trip/a.jpg", "trip/broken.jpg", "trip/b.jpg",
    ]  # fmt: skip
    assert "Expected" in results[4]["error"] and "predictions" not in results[4]
    assert all(len(result["predictions"]) == 3 for index, result in enumerate(results) if index != 4)
    csv = client.get(f"{created['results_url']}.csv").content.decode()
    assert csv.splitlines()[0] == "index,name,rank,label,class_id,score,error"
    assert len(csv.splitlines()) == 1 + 5 * 3 + 1
    assert not JobImage.objects.filter(job_id=created["id"]).exclude(data=b"").exists()  # bytes dropped once done


def test_a_worker_killed_mid_job_leaves_the_rest_to_another_with_each_result_written_once(
    client: Client, start_worker: StartWorker
) -> None:
    total = 40
    photos = [upload(f"p{index:02}.jpg", jpeg(index, 480, 360)) for index in range(total)]
    created = submit(client, images=photos, model="resnet50").json()
    first = start_worker(models="resnet50", chunk=4)

    wait_for(client, created["status_url"], until=("running",))
    while Job.objects.get(id=created["id"]).images.filter(processed=True).count() < 4:
        time.sleep(0.05)
    first.kill()
    at_kill = Job.objects.get(id=created["id"]).images.filter(processed=True).count()
    assert at_kill < total, "the job ended before the worker could be killed: nothing was tested"

    start_worker(models="resnet50", chunk=4)
    status = wait_for(client, created["status_url"])

    assert (status["state"], status["done"], status["failed"]) == ("done", total, 0)
    results = all_results(client, created["results_url"])
    assert [result["name"] for result in results] == [f"p{index:02}.jpg" for index in range(total)]
    assert all(len(result["predictions"]) == 3 for result in results)


def test_a_cancelled_job_runs_no_more_chunks(client: Client, start_worker: StartWorker) -> None:
    cancelled = submit(client, images=[upload(f"{index}.jpg", jpeg(index)) for index in range(12)]).json()
    response = client.post(f"/api/v1/jobs/{cancelled['id']}/cancel")
    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    later = submit(client, images=[upload("after.jpg", jpeg(99))]).json()
    start_worker()

    # One worker takes chunks in the order they were sent: when the later job is done, the cancelled one's
    # chunks have all been taken, and skipped.
    assert wait_for(client, later["status_url"])["state"] == "done"
    status = client.get(cancelled["status_url"]).json()
    assert (status["state"], status["done"], status["failed"]) == ("cancelled", 0, 0)
    assert client.get(cancelled["results_url"]).json() == {"results": [], "next": 0}
