"""A chunk's images read in bulk, and a group of results written in one statement (each image once, errors as
SQL NULL predictions, the bytes dropped); on PostgreSQL (the test database) and on SQLite (`make run`'s
default, in a process of its own)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from recognizer.jobs import bulk
from recognizer.jobs.bulk import Outcome, pending_images, write_results
from recognizer.jobs.models import Job, JobImage
from recognizer.jobs.services import Photo, create_job
from tests.jobs.helpers import jpeg

ROOT = Path(__file__).resolve().parents[2]
PREDICTIONS = [{"label": "tabby cat", "score": 0.75, "index": 281}, {"label": "tiger cat", "score": 0.2, "index": 282}]


def _job(count: int) -> Job:
    photos = [Photo(name=f"{index}.jpg", data=jpeg(index)) for index in range(count)]
    return create_job(model_name="efficientnet_lite0", top_k=2, session_key="", photos=photos)


def test_pending_images_are_the_unprocessed_ones_of_the_range_in_order_with_their_bytes() -> None:
    job = _job(6)
    ids = list(job.images.order_by("index").values_list("id", flat=True))
    write_results([Outcome(ids[2], error="done before")])

    pending = pending_images(job.id, 1, 5)

    assert [image_id for image_id, _ in pending] == [ids[1], ids[3], ids[4]]
    assert [data for _, data in pending] == [jpeg(1), jpeg(3), jpeg(4)]
    assert all(type(data) is bytes for _, data in pending)
    assert pending_images(job.id, 6, 10) == []


@pytest.mark.parametrize("path", ["one statement", "the ORM, image by image"])
def test_each_result_is_written_once_with_its_thumbnail_or_its_error(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if path != "one statement":  # what a database without UPDATE ... FROM takes
        monkeypatch.setattr(bulk, "_JSON_CAST", {})
    job = _job(4)
    ids = list(job.images.order_by("index").values_list("id", flat=True))
    first = [
        Outcome(ids[0], predictions=PREDICTIONS, thumbnail=b"\xff\xd8 thumb 0"),
        Outcome(ids[1], error="Expected an image. Received text"),
        Outcome(ids[2], predictions=PREDICTIONS[:1], thumbnail=b"\xff\xd8 thumb 2"),
    ]
    assert write_results(first) == 3

    again = [Outcome(ids[0], predictions=[], thumbnail=b"other"), Outcome(ids[3], predictions=PREDICTIONS)]
    assert write_results(again) == 1  # the processed image is skipped, the new one written
    assert write_results([]) == 0

    images = {image.index: image for image in JobImage.objects.filter(job=job)}
    assert [image.processed for image in images.values()] == [True] * 4
    assert (images[0].predictions, images[0].error) == (PREDICTIONS, "")
    assert bytes(images[0].thumbnail) == b"\xff\xd8 thumb 0"
    assert (images[1].predictions, bytes(images[1].thumbnail)) == (None, b"")
    assert images[1].error == "Expected an image. Received text"
    assert images[2].predictions == PREDICTIONS[:1] and images[3].predictions == PREDICTIONS
    assert all(bytes(image.data) == b"" for image in images.values())
    assert JobImage.objects.filter(job=job, predictions__isnull=True).count() == 1  # SQL NULL, not JSON null


SQLITE_SCRIPT = """
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from recognizer.jobs.models import JobImage
import pytest

from recognizer.jobs import bulk
from recognizer.jobs.bulk import Outcome, pending_images, write_results
from recognizer.jobs.services import Photo, create_job
job = create_job(model_name="efficientnet_lite0", top_k=2, session_key="",
                 photos=[Photo(name="a.jpg", data=b"a"), Photo(name="b.jpg", data=b"b")])
a, b = job.images.order_by("index").values_list("id", flat=True)
assert pending_images(job.id, 0, 2) == [(a, b"a"), (b, b"b")]
written = write_results([Outcome(a, predictions=[{"label": "x", "score": 1.0}], thumbnail=b"t"), Outcome(b, error="e")])
again = write_results([Outcome(a, error="not again")])
rows = [(i.predictions, bytes(i.thumbnail), i.error, bytes(i.data)) for i in job.images.order_by("index")]
print(written, again, rows, JobImage.objects.filter(predictions__isnull=True).count())
"""


def test_sqlite_takes_the_same_statement(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "imgrec_site.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_SECRET_KEY": "test-only",
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-c", SQLITE_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    expected = "2 0 [([{'label': 'x', 'score': 1.0}], b't', '', b''), (None, b'', 'e', b'')] 1"
    assert done.stdout.strip().splitlines()[-1] == expected
