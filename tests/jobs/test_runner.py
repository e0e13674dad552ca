"""The chunk runner in this process: a chunk run twice writes each image's result once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from recognizer.inference.batching import EngineConfig
from recognizer.inference.catalog import SPECS_BY_NAME
from recognizer.inference.errors import InferenceTimeout
from recognizer.inference.pipeline import Pipeline
from recognizer.inference.registry import ModelRegistry
from recognizer.jobs import runner
from recognizer.jobs.models import Job
from recognizer.jobs.services import Photo, create_job
from tests.jobs.helpers import jpeg


@pytest.fixture(scope="module")
def pipeline() -> Iterator[Pipeline]:
    registry = ModelRegistry([SPECS_BY_NAME["efficientnet_lite0"]], weights_mode="random")
    yield Pipeline(registry, max_pixels=40_000_000)
    registry.close()


def test_a_chunk_run_again_writes_nothing_twice(pipeline: Pipeline) -> None:
    photos = [Photo(name=f"{index}.jpg", data=jpeg(index)) for index in range(5)]
    job = create_job(model_name="efficientnet_lite0", top_k=2, session_key="", photos=photos)

    first = runner.run_chunk(pipeline=pipeline, job_id=job.id, start=0, stop=3)
    written = {image.index: image.predictions for image in job.images.filter(processed=True)}
    again = runner.run_chunk(pipeline=pipeline, job_id=job.id, start=0, stop=3)

    assert (first, again) == (3, 0)
    assert {image.index: image.predictions for image in job.images.filter(processed=True)} == written
    job.refresh_from_db()
    assert job.state == Job.RUNNING  # two images are left
    assert runner.run_chunk(pipeline=pipeline, job_id=job.id, start=3, stop=5) == 2
    job.refresh_from_db()
    assert job.state == Job.DONE and job.finished_at is not None


def test_a_cancelled_job_runs_nothing(pipeline: Pipeline) -> None:
    job = create_job(model_name="efficientnet_lite0", top_k=2, session_key="", photos=[Photo("a.jpg", jpeg(1))])
    Job.objects.filter(id=job.id).update(state=Job.CANCELLED)
    assert runner.run_chunk(pipeline=pipeline, job_id=job.id, start=0, stop=1) == 0
    assert not job.images.filter(processed=True).exists()


def test_an_image_that_is_not_a_photo_is_that_images_error(pipeline: Pipeline) -> None:
    job = create_job(model_name="efficientnet_lite0", top_k=2, session_key="", photos=[Photo("a.txt", b"hello")])
    runner.run_chunk(pipeline=pipeline, job_id=job.id, start=0, stop=1)
    image = job.images.get()
    assert image.processed and image.predictions is None and image.error.startswith("Expected")


def test_a_server_fault_fails_the_chunk_for_a_retry_and_is_no_images_error(pipeline: Pipeline) -> None:
    photos = [Photo(name=f"{index}.jpg", data=jpeg(index)) for index in range(40)]
    job = create_job(model_name="efficientnet_lite0", top_k=2, session_key="", photos=photos)
    # A real engine whose deadline no forward pass can meet: every image's wait ends in InferenceTimeout (504).
    hurried = ModelRegistry(
        [SPECS_BY_NAME["efficientnet_lite0"]], weights_mode="random", engine_config=EngineConfig(timeout_s=1e-6)
    )
    try:
        with pytest.raises(InferenceTimeout):
            runner.run_chunk(pipeline=Pipeline(hurried, max_pixels=40_000_000), job_id=job.id, start=0, stop=40)
    finally:
        hurried.close()
    assert not job.images.filter(processed=True).exists()  # a fault of the server's is not the photo's error

    assert runner.run_chunk(pipeline=pipeline, job_id=job.id, start=0, stop=40) == 40
    assert all(image.predictions and len(image.predictions) == 2 for image in job.images.all())
    job.refresh_from_db()
    assert job.state == Job.DONE
