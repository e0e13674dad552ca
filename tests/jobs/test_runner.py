"""The chunk runner in this process: a chunk run twice writes each image's result once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from recognizer.inference.catalog import SPECS_BY_NAME
from recognizer.inference.errors import ModelNotReady
from recognizer.inference.pipeline import Classification, Pipeline
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

    first = runner.run_chunk(pipeline=pipeline, job_id=job.id, start=0, stop=3, concurrency=8)
    written = {image.index: image.predictions for image in job.images.filter(processed=True)}
    again = runner.run_chunk(pipeline=pipeline, job_id=job.id, start=0, stop=3, concurrency=8)

    assert (first, again) == (3, 0)
    assert {image.index: image.predictions for image in job.images.filter(processed=True)} == written
    job.refresh_from_db()
    assert job.state == Job.RUNNING  # two images are left
    assert runner.run_chunk(pipeline=pipeline, job_id=job.id, start=3, stop=5, concurrency=8) == 2
    job.refresh_from_db()
    assert job.state == Job.DONE and job.finished_at is not None


def test_a_cancelled_job_runs_nothing(pipeline: Pipeline) -> None:
    job = create_job(model_name="efficientnet_lite0", top_k=2, session_key="", photos=[Photo("a.jpg", jpeg(1))])
    Job.objects.filter(id=job.id).update(state=Job.CANCELLED)
    assert runner.run_chunk(pipeline=pipeline, job_id=job.id, start=0, stop=1, concurrency=8) == 0
    assert not job.images.filter(processed=True).exists()


def test_an_image_that_is_not_a_photo_is_that_images_error(pipeline: Pipeline) -> None:
    job = create_job(model_name="efficientnet_lite0", top_k=2, session_key="", photos=[Photo("a.txt", b"hello")])
    runner.run_chunk(pipeline=pipeline, job_id=job.id, start=0, stop=1, concurrency=8)
    image = job.images.get()
    assert image.processed and image.predictions is None and image.error.startswith("Expected")


class FailingOnOnePhoto(Pipeline):
    """The real pipeline, except that one photo meets a server-side fault (what a failed batch raises)."""

    def __init__(self, pipeline: Pipeline, failing: bytes) -> None:
        super().__init__(pipeline.registry, max_pixels=pipeline.max_pixels)
        self.failing = failing

    def classify(self, *, image_bytes: bytes, model_name: str, top_k: int = 5) -> Classification:
        if image_bytes == self.failing:
            raise ModelNotReady("Expected the model to answer. Received a failed batch")
        return super().classify(image_bytes=image_bytes, model_name=model_name, top_k=top_k)


def test_a_server_fault_fails_the_chunk_for_a_retry_that_writes_every_image_once(pipeline: Pipeline) -> None:
    photos = [Photo(name=f"{index}.jpg", data=jpeg(index)) for index in range(40)]
    job = create_job(model_name="efficientnet_lite0", top_k=2, session_key="", photos=photos)
    faulty = FailingOnOnePhoto(pipeline, failing=photos[7].data)

    with pytest.raises(ModelNotReady, match="Received a failed batch"):
        runner.run_chunk(pipeline=faulty, job_id=job.id, start=0, stop=40, concurrency=8)
    kept = job.images.filter(processed=True).count()
    assert kept < 40 and not job.images.filter(index=7, processed=True).exists()

    retried = runner.run_chunk(pipeline=pipeline, job_id=job.id, start=0, stop=40, concurrency=8)
    # Images still running in the shared pool when the first run failed are not written by it: the retry does.
    assert kept + retried == 40
    assert job.images.filter(processed=True).count() == 40
    assert all(image.predictions and len(image.predictions) == 2 for image in job.images.all())
    job.refresh_from_db()
    assert job.state == Job.DONE
