"""The batch pages without JavaScript: the form, a job's page refreshing itself, then the gallery."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.test import Client

from recognizer.inference.catalog import SPECS_BY_NAME
from recognizer.inference.pipeline import Pipeline
from recognizer.inference.registry import ModelRegistry
from recognizer.jobs import runner
from recognizer.jobs.models import Job
from tests.jobs.helpers import jpeg, upload, zip_of


@pytest.fixture(scope="module")
def pipeline() -> Iterator[Pipeline]:
    registry = ModelRegistry([SPECS_BY_NAME["efficientnet_lite0"]], weights_mode="random")
    yield Pipeline(registry, max_pixels=40_000_000)
    registry.close()


def test_the_batch_page_is_in_the_navigation_with_files_folder_and_zip(client: Client) -> None:
    page = client.get("/batch/").content.decode()
    assert 'href="/batch/">Batch</a>' in page
    assert 'name="images" id="batch-images" multiple' in page and "webkitdirectory" in page
    assert 'name="archive"' in page and 'name="model"' in page and 'name="top_k"' in page


def test_a_post_without_photos_shows_the_form_with_what_was_expected(client: Client) -> None:
    response = client.post("/batch/", {"model": "efficientnet_lite0", "top_k": "5"})
    assert response.status_code == 400
    assert "Expected photos in the multipart field" in response.content.decode()


def test_a_job_page_refreshes_while_it_runs_then_shows_the_gallery_errors_and_exports(
    client: Client, pipeline: Pipeline
) -> None:
    archive = zip_of([("cats/a.jpg", jpeg(1)), ("cats/notes.txt", b"not a photo")])
    fields = {"model": "efficientnet_lite0", "top_k": "3", "images": [upload("b.jpg", jpeg(2))]}
    response = client.post("/batch/", {**fields, "archive": upload("c.zip", archive)})
    assert response.status_code == 303
    job_url = response["Location"]
    job = Job.objects.get(id=re.fullmatch(r"/batch/([0-9a-f-]+)/", job_url)[1])

    running = client.get(job_url).content.decode()
    assert '<meta http-equiv="refresh" content="3">' in running
    assert 'max="3" value="0"' in running and "0 / 3" in running

    runner.run_chunk(pipeline=pipeline, job_id=job.id, start=0, stop=3)
    done = client.get(job_url).content.decode()

    assert 'http-equiv="refresh"' not in done
    assert "3 / 3" in done and '<strong id="job-state">done</strong>' in done
    assert done.count("<figure") == 2 and f"/batch/{job.id}/0.jpg" in done
    assert "cats/notes.txt</strong>: Expected" in done
    top_label = job.images.get(index=0).top_label
    filtered = client.get(job_url, {"label": top_label}).content.decode()
    assert 1 <= filtered.count("<figure") <= 2 and top_label in filtered
    assert client.get(f"/batch/{job.id}/0.jpg")["Content-Type"] == "image/jpeg"
    exported = client.get(f"/batch/{job.id}/results.json").json()
    assert [result["name"] for result in exported["results"]] == ["b.jpg", "cats/a.jpg", "cats/notes.txt"]
    assert "Batch jobs" in client.get("/history/").content.decode()
    assert f"/batch/{job.id}/" in client.get("/history/").content.decode()


def test_a_job_is_cancelled_from_its_page(client: Client) -> None:
    response = client.post("/batch/", {"model": "efficientnet_lite0", "images": [upload("b.jpg", jpeg(2))]})
    assert client.post(f"{response['Location']}cancel/").status_code == 303
    assert Job.objects.get().state == Job.CANCELLED


def test_an_unknown_job_page_is_a_404(client: Client) -> None:
    assert client.get("/batch/6b3c9a60-2b0b-4b8e-9d4e-0d4c2d9b1c11/").status_code == 404
