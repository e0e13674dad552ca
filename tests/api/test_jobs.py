"""The jobs API without a worker: shapes, limits and hostile archives answered at submit."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from django.test import Client

from recognizer.jobs.models import Job
from tests.jobs.helpers import jpeg, submit, upload, zip_of


@pytest.fixture
def spool_dir(settings: pytest.FixtureRequest, tmp_path: Path) -> Path:
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "spool")
    Path(settings.FILE_UPLOAD_TEMP_DIR).mkdir()
    return Path(settings.FILE_UPLOAD_TEMP_DIR)


def test_a_submitted_job_is_queued_with_its_links_and_shapes(client: Client, spool_dir: Path) -> None:
    response = submit(client, images=[upload("a.jpg", jpeg(1)), upload("b.jpg", jpeg(2))])

    assert response.status_code == 202
    created = response.json()
    assert set(created) == {"id", "state", "total", "status_url", "results_url"}
    assert (created["state"], created["total"]) == ("queued", 2)
    assert response["Location"] == created["status_url"] == f"/api/v1/jobs/{created['id']}"
    status = client.get(created["status_url"]).json()
    assert status == {
        "id": created["id"], "state": "queued", "model": "efficientnet_lite0", "top_k": 3, "total": 2,
        "done": 0, "failed": 0, "images_per_s": 0.0, "results_url": created["results_url"],
    }  # fmt: skip
    assert client.get(created["results_url"]).json() == {"results": [], "next": 0}
    assert list(spool_dir.iterdir()) == []  # every spooled upload removed once the rows are stored


def test_more_photos_than_a_single_upload_allows_make_one_job(client: Client) -> None:
    response = submit(client, images=[upload(f"{index}.png", b"x") for index in range(150)])
    assert response.status_code == 202 and response.json()["total"] == 150


@pytest.mark.parametrize(
    ("fields", "status", "expected"),
    [
        ({}, 400, "Expected photos in the multipart field 'images'"),
        ({"model": "alexnet", "images": [upload("a.jpg", b"x")]}, 404, "Unknown model"),
        ({"top_k": "0", "images": [upload("a.jpg", b"x")]}, 400, "Expected top_k"),
        ({"archive": upload("a.zip", b"not a zip at all")}, 415, "Expected a .zip archive"),
        ({"archive": upload("a.zip", zip_of([("a.jpg", b"x")])[:40])}, 400, "Expected a complete .zip"),
    ],
)
def test_a_bad_submission_is_refused_naming_what_was_expected(
    client: Client, fields: dict, status: int, expected: str
) -> None:
    response = submit(client, **fields)
    assert response.status_code == status
    assert expected in response.json()["error"]
    assert not Job.objects.exists()


def test_a_body_that_is_not_multipart_is_refused(client: Client) -> None:
    response = client.post("/api/v1/jobs", b"{}", content_type="application/json")
    assert response.status_code == 400 and "multipart/form-data" in response.json()["error"]


def test_an_upload_over_the_archive_cap_is_refused_before_it_is_stored(client: Client, settings) -> None:  # noqa: ANN001
    settings.IMGREC_ARCHIVE_MAX_MB = 1
    response = submit(client, archive=upload("big.zip", os.urandom(2 * 1024 * 1024)))
    assert response.status_code == 413 and "at most 1 MB together" in response.json()["error"]


def test_a_zip_bomb_is_refused_at_submit(client: Client) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.jpg", bytes(200 * 1024 * 1024))
    response = submit(client, archive=upload("bomb.zip", buffer.getvalue()))
    assert response.status_code == 413 and "compressed at most" in response.json()["error"]
    assert not Job.objects.exists()


def test_ten_thousand_empty_entries_are_refused_at_submit(client: Client) -> None:
    response = submit(client, archive=upload("many.zip", zip_of([(f"{index}.jpg", b"") for index in range(10_000)])))
    assert response.status_code == 413 and "at most 5,000 photos" in response.json()["error"]


def test_hostile_names_and_nested_archives_become_labels_and_per_entry_errors(client: Client) -> None:
    archive = zip_of([("../../etc/evil.jpg", jpeg(1)), ("inner.zip", zip_of([("a.jpg", jpeg(2))])), ("a.jpg", jpeg(3))])
    created = submit(client, archive=upload("hostile.zip", archive)).json()
    job = Job.objects.get(id=created["id"])
    rows = list(job.images.values_list("name", "processed", "error"))
    assert rows[0] == ("etc/evil.jpg", False, "")
    assert rows[1][:2] == ("inner.zip", True) and "nested archives are not unpacked" in rows[1][2]
    assert rows[2] == ("a.jpg", False, "")
    assert client.get(created["status_url"]).json()["failed"] == 1


def test_an_unknown_job_is_a_json_404(client: Client) -> None:
    for path in ("/api/v1/jobs/not-a-uuid", "/api/v1/jobs/6b3c9a60-2b0b-4b8e-9d4e-0d4c2d9b1c11/results"):
        response = client.get(path)
        assert response.status_code == 404 and "Expected the id of an existing job" in response.json()["error"]


def test_a_bad_page_is_refused(client: Client) -> None:
    created = submit(client, images=[upload("a.jpg", jpeg(1))]).json()
    response = client.get(created["results_url"], {"limit": "5000"})
    assert response.status_code == 400 and "Expected limit" in response.json()["error"]


def test_cancel_is_a_post_and_stops_a_queued_job(client: Client) -> None:
    created = submit(client, images=[upload("a.jpg", jpeg(1))]).json()
    assert client.get(f"/api/v1/jobs/{created['id']}/cancel").status_code == 405
    response = client.post(f"/api/v1/jobs/{created['id']}/cancel")
    assert response.status_code == 200 and response.json()["state"] == "cancelled"
