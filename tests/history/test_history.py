from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils.html import escape
from PIL import Image

from recognizer.history.cache import classify_with_history, upload_sha256
from recognizer.history.models import HistoryEntry, Thumbnail
from recognizer.history.store import read_thumbnail
from recognizer.inference.catalog import SPECS_BY_NAME
from recognizer.inference.pipeline import Pipeline
from recognizer.inference.registry import ModelRegistry
from tests.conftest import ServeRegistry
from tests.images import encode, png_bytes, scene_rgb


def upload(client: Client, data: bytes, model: str = "resnet50"):
    return client.post(
        "/", {"image": SimpleUploadedFile("photo.png", data, content_type="image/png"), "model": model}, follow=True
    )


def entry_ids(html: str) -> list[str]:
    return re.findall(r'<tr id="entry-([0-9a-f-]{36})">', html)


def test_an_upload_is_stored_with_a_small_clean_thumbnail_and_a_permalink(
    client: Client, registry: ModelRegistry, media_root: Path
) -> None:
    """The thumbnail is a row in the database (every node reads it); nothing is written to MEDIA_ROOT."""
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # camera make: must not survive
    data = encode(scene_rgb(800, 600), "JPEG", exif=exif.tobytes())
    response = upload(client, data)
    assert response.status_code == 200
    entry = HistoryEntry.objects.get()
    assert entry.sha256 == upload_sha256(data) and entry.model == "resnet50" and not entry.cached
    assert len(entry.predictions) == 5
    assert set(entry.timings_ms) == {"decode", "preprocess", "queue", "inference", "total"}
    jpeg = read_thumbnail(entry)
    assert jpeg is not None and entry.thumbnail_id == hashlib.sha256(jpeg).hexdigest()
    with Image.open(io.BytesIO(jpeg)) as thumbnail:
        assert max(thumbnail.size) <= 256
        assert not thumbnail.getexif()
    assert b"SecretCam" not in jpeg
    assert len(entry.model_input) == 224 * 224 * 3  # what the model saw: 224 x 224 RGB pixels, nothing else
    assert b"SecretCam" not in bytes(entry.model_input)
    assert not media_root.exists() or not list(media_root.rglob("*"))  # neither the upload nor a file kept
    permalink = f"/r/{entry.id}/"
    assert permalink in response.content.decode()
    other = Client()  # anyone holding the link sees the result
    page = other.get(permalink)
    assert page.status_code == 200
    assert escape(entry.predictions[0]["label"]) in page.content.decode()  # "jack-o'-lantern" is escaped
    served = other.get(f"/r/{entry.id}/thumbnail.jpg")
    assert served["Content-Type"] == "image/jpeg" and served.content == jpeg
    HistoryEntry.objects.filter(id=entry.id).update(thumbnail=None)  # as after 0003 for a file already gone
    Thumbnail.objects.all().delete()
    assert other.get(permalink).status_code == 200
    assert other.get(f"/r/{entry.id}/thumbnail.jpg").status_code == 404


def test_sessions_see_only_their_own_history_and_cannot_delete_others(client: Client, registry: ModelRegistry) -> None:
    session_a, session_b = client, Client()
    upload(session_a, png_bytes(320, 240))
    upload(session_a, png_bytes(200, 100), model="vgg19")
    upload(session_b, png_bytes(120, 90))
    ids_a = entry_ids(session_a.get("/history/").content.decode())
    ids_b = entry_ids(session_b.get("/history/").content.decode())
    assert len(ids_a) == 2 and len(ids_b) == 1 and not set(ids_a) & set(ids_b)
    newest_first = HistoryEntry.objects.filter(id__in=ids_a).order_by("-created_at")
    assert ids_a == [str(entry.id) for entry in newest_first]
    assert 'id="history-empty"' in Client().get("/history/").content.decode()

    assert session_b.post(f"/history/{ids_a[0]}/delete/").status_code == 404
    assert HistoryEntry.objects.filter(id=ids_a[0]).exists()
    thumbnail_id = HistoryEntry.objects.get(id=ids_a[0]).thumbnail_id
    assert session_a.post(f"/history/{ids_a[0]}/delete/").status_code == 302
    assert not HistoryEntry.objects.filter(id=ids_a[0]).exists()
    assert not Thumbnail.objects.filter(sha256=thumbnail_id).exists()
    assert entry_ids(session_a.get("/history/").content.decode()) == [ids_a[1]]


def test_export_csv_and_json(client: Client, registry: ModelRegistry) -> None:
    upload(client, png_bytes())
    entry = HistoryEntry.objects.get()
    response = client.get("/history/export.json")
    assert response["Content-Type"] == "application/json"
    exported = json.loads(response.content)["history"]
    assert exported == [
        {
            "id": str(entry.id),
            "created_at": entry.created_at.isoformat(),
            "model": "resnet50",
            "weights": "random",
            "top_k": 5,
            "cached": False,
            "sha256": upload_sha256(png_bytes()),
            "predictions": entry.predictions,
            "timings_ms": entry.timings_ms,
        }
    ]
    response = client.get("/history/export.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="imgrec-history.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [int(row["rank"]) for row in rows] == [1, 2, 3, 4, 5]
    assert [row["label"] for row in rows] == [p["label"] for p in entry.predictions]
    assert float(rows[0]["score"]) == pytest.approx(entry.predictions[0]["score"])
    assert {row["id"] for row in rows} == {str(entry.id)} and rows[0]["model"] == "resnet50"
    assert Client().get("/history/export.csv").content.decode().strip() == (
        "id,created_at,model,weights,top_k,cached,sha256,rank,label,class_id,index,score"
    )


def test_a_repeated_upload_is_answered_from_the_same_sessions_store_without_inference(
    client: Client, registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = png_bytes()
    upload(client, data)
    first = HistoryEntry.objects.get()
    assert first.cached is False and first.timings_ms["inference"] > 0
    real_classify = Pipeline.classify
    monkeypatch.setattr(Pipeline, "classify", refuse_to_run)  # a cache answer never reaches the model
    upload(client, data)
    second = HistoryEntry.objects.exclude(id=first.id).get()
    assert second.cached is True and second.session_key == first.session_key
    assert second.predictions == first.predictions
    assert second.timings_ms["inference"] == 0
    monkeypatch.setattr(Pipeline, "classify", real_classify)
    client.post("/", {"image": SimpleUploadedFile("p.png", data), "model": "resnet50", "top_k": "3"})
    assert HistoryEntry.objects.filter(top_k=3).get().cached is False  # a different top_k is a different question
    assert HistoryEntry.objects.filter(cached=True).count() == 1


def test_the_cache_never_answers_another_session_or_the_api(client: Client, registry: ModelRegistry) -> None:
    data = png_bytes()
    upload(client, data)
    upload(Client(), data)
    api = Client().post("/api/v1/classify", data=data, content_type="image/png").json()
    assert api["cached"] is False and api["timings_ms"]["inference"] > 0
    assert not HistoryEntry.objects.filter(cached=True).exists()
    assert HistoryEntry.objects.count() == 3


def refuse_to_run(*args: object, **kwargs: object) -> None:
    raise AssertionError("the model ran although the answer was stored")


def test_new_weights_never_serve_an_answer_stored_for_the_old_ones(
    client: Client, registry: ModelRegistry, serve_registry: ServeRegistry
) -> None:
    data = png_bytes()
    assert client.post("/api/v1/classify", data=data, content_type="image/png").json()["cached"] is False
    # Another load of resnet50 draws other random weights: another fingerprint, another answer.
    serve_registry(ModelRegistry([SPECS_BY_NAME["resnet50"]], weights_mode="random"))
    again = client.post("/api/v1/classify", data=data, content_type="image/png").json()
    assert again["cached"] is False
    fingerprints = set(HistoryEntry.objects.values_list("weights_fingerprint", flat=True))
    assert len(fingerprints) == 2 and "" not in fingerprints


def test_cached_result_page_says_so(client: Client, registry: ModelRegistry) -> None:
    upload(client, png_bytes())
    response = upload(client, png_bytes())
    assert 'id="cached-badge"' in response.content.decode()
    first, second = HistoryEntry.objects.order_by("created_at")
    assert second.cached and second.thumbnail_id == first.thumbnail_id  # one stored picture, not two
    assert Thumbnail.objects.count() == 1


def test_a_shared_thumbnail_stays_until_its_last_entry_is_deleted(client: Client, registry: ModelRegistry) -> None:
    upload(client, png_bytes())
    upload(client, png_bytes())  # answered from the store: same picture
    first, second = HistoryEntry.objects.order_by("created_at")
    assert client.post(f"/history/{first.id}/delete/").status_code == 302
    assert client.get(f"/r/{second.id}/thumbnail.jpg").status_code == 200
    assert client.post(f"/history/{second.id}/delete/").status_code == 302
    assert not Thumbnail.objects.exists()


def test_purge_history_removes_old_rows_and_their_thumbnails(
    client: Client,
    registry: ModelRegistry,
    settings,  # noqa: ANN001
) -> None:
    settings.IMGREC_HISTORY_DAYS = 30
    upload(client, png_bytes(320, 240))
    upload(client, png_bytes(100, 100))
    old, recent = HistoryEntry.objects.order_by("created_at")
    old.created_at -= timedelta(days=31)
    old.save()
    old_thumbnail, recent_thumbnail = old.thumbnail_id, recent.thumbnail_id
    out = io.StringIO()
    call_command("purge_history", stdout=out)
    assert "Deleted 1 history entries older than 30 days" in out.getvalue()
    assert list(HistoryEntry.objects.all()) == [recent]
    assert list(Thumbnail.objects.values_list("sha256", flat=True)) == [recent_thumbnail] != [old_thumbnail]
    call_command("purge_history", "--days", "0", stdout=io.StringIO())
    assert not HistoryEntry.objects.exists() and not Thumbnail.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_identical_concurrent_uploads_in_one_session_run_the_model_once(
    registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[int] = []
    real_classify = Pipeline.classify

    def counted(self: Pipeline, **kwargs: object) -> object:
        runs.append(1)
        return real_classify(self, **kwargs)

    monkeypatch.setattr(Pipeline, "classify", counted)
    pipeline = Pipeline(registry, max_pixels=10**8)
    data = png_bytes(300, 200)
    start = threading.Barrier(8)

    def one_upload(_: int) -> bool:
        try:
            start.wait()
            entry = classify_with_history(
                pipeline=pipeline, image_bytes=data, model_name="resnet50", top_k=5, session_key="s" * 32
            )
            return entry.cached
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        cached = list(pool.map(one_upload, range(8)))
    assert len(runs) == 1
    assert sorted(cached) == [False] + [True] * 7
    assert len({tuple(map(str, e.predictions)) for e in HistoryEntry.objects.all()}) == 1
