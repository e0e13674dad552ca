"""A batch job on a custom model: its owner's token checked at submit, the head read from the database by a
real Celery worker process (which loads its own backbone), the answers in the model's own classes."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.custom.fixtures import MakeCustomModel
from tests.jobs.conftest import StartWorker
from tests.jobs.helpers import all_results, upload, wait_for

TOKEN = "the-owners-token"


@pytest.fixture
def client() -> Client:
    return Client()


def test_a_job_on_a_custom_model_is_run_by_a_worker_in_its_classes(
    client: Client,
    start_worker: StartWorker,
    make_custom_model: MakeCustomModel,
    brick_photo: bytes,
    gravel_photo: bytes,
) -> None:
    make_custom_model("walls", token=TOKEN)
    fields = {
        "model": "walls",
        "top_k": "5",
        "images": [upload("brick.jpg", brick_photo), upload("gravel.jpg", gravel_photo)],
    }
    refused = client.post("/api/v1/jobs", fields)
    assert refused.status_code == 404 and "Unknown model" in refused.json()["error"]
    fields["images"] = [upload("brick.jpg", brick_photo), upload("gravel.jpg", gravel_photo)]
    response = client.post("/api/v1/jobs", fields, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 202, response.content
    start_worker()
    status = wait_for(client, response.json()["status_url"])
    assert (status["state"], status["model"], status["done"]) == ("done", "walls", 2)
    results = all_results(client, response.json()["results_url"])
    assert [[p["label"] for p in result["predictions"]] for result in results] == [
        ["brick", "gravel"],
        ["gravel", "brick"],
    ]
