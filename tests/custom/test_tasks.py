"""Custom models trained by real Celery worker processes on Redis and PostgreSQL: created through the API,
trained to ready; a worker killed with SIGKILL mid-training leaves no half-model, and the broker's
redelivery, or "train again", starts over from the stored photos and completes."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from recognizer.custom.models import CustomModel, TrainingPhoto
from tests.custom.helpers import texture_zip
from tests.jobs.conftest import StartWorker, broker, start_worker  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow
TIMEOUT_S = 300


def create(client: Client, name: str, per_class: int) -> dict[str, Any]:
    archive = SimpleUploadedFile("set.zip", texture_zip(per_class), content_type="application/zip")
    response = client.post("/api/v1/custom-models", {"name": name, "archive": archive})
    assert response.status_code == 202, response.content
    return response.json()


def wait_until(model_id: str, done: Any) -> CustomModel:
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        model = CustomModel.objects.get(id=model_id)
        if done(model) or time.monotonic() > deadline:
            return model
        time.sleep(0.2)


def finished(model: CustomModel) -> bool:
    return model.state != CustomModel.TRAINING


def test_a_model_created_through_the_api_is_trained_by_a_worker(
    client: Client,
    start_worker: StartWorker,  # noqa: F811
) -> None:
    created = create(client, "textures", per_class=6)
    start_worker()

    model = wait_until(created["job"], finished)

    assert (model.state, model.stage, model.reason) == ("ready", "done", "")
    assert bytes(model.head)[:2] == b"PK" and model.classes == ["brick", "gravel"]
    assert 0.0 <= model.validation["accuracy"] <= 1.0 and model.epochs
    assert not TrainingPhoto.objects.filter(model=model).exclude(data=b"").exists()


def test_a_worker_killed_mid_training_leaves_no_half_model_and_the_redelivered_task_completes(
    client: Client,
    start_worker: StartWorker,  # noqa: F811
) -> None:
    created = create(client, "killed", per_class=30)
    first = start_worker()
    wait_until(created["job"], lambda model: model.facts.get("features_done", 0) >= 2 or finished(model))
    first.kill()

    model = CustomModel.objects.get(id=created["job"])
    assert model.state == "training", "training ended before the worker could be killed: nothing was tested"
    assert bytes(model.head) == b"" and model.validation == {}
    assert TrainingPhoto.objects.filter(model=model).exclude(data=b"").count() == 60  # kept to start over

    start_worker()  # gets the task again once the broker's visibility timeout has passed
    model = wait_until(created["job"], finished)
    assert (model.state, model.facts["attempt"], model.facts["features_done"]) == ("ready", 1, 60)
    assert bytes(model.head)[:2] == b"PK"


def test_train_again_after_a_killed_worker_supersedes_the_old_attempt_and_completes(
    client: Client,
    start_worker: StartWorker,  # noqa: F811
) -> None:
    created = create(client, "again", per_class=30)
    first = start_worker()
    wait_until(created["job"], lambda model: model.facts.get("features_done", 0) >= 2 or finished(model))
    first.kill()
    assert CustomModel.objects.get(id=created["job"]).state == "training"

    response = client.post("/api/v1/custom-models/again/train", HTTP_AUTHORIZATION=f"Bearer {created['token']}")
    assert response.status_code == 202
    start_worker()  # runs attempt 2, and skips the redelivered attempt 1

    model = wait_until(created["job"], finished)
    assert (model.state, model.facts["attempt"], model.facts["features_done"]) == ("ready", 2, 60)


def test_a_worker_on_the_filesystem_broker_trains_a_model_whose_task_was_lost(
    client: Client,
    start_worker: StartWorker,  # noqa: F811
    broker: str,  # noqa: F811
    tmp_path: Any,
) -> None:
    created = create(client, "lost-textures", per_class=6)
    redis.Redis.from_url(broker).flushdb()  # the queued training lost, as with `make run`'s worker killed

    start_worker(IMGREC_BROKER_URL="filesystem://", IMGREC_BROKER_DIR=str(tmp_path / "broker"))
    model = wait_until(created["job"], finished)

    assert (model.state, model.reason) == ("ready", "")
