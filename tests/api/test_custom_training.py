"""POST /api/v1/custom-models without a worker: the 202 answer and its token, the refusals with what
arrived, nothing stored on refusal; training again with the token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from recognizer.custom.models import CustomModel, TrainingPhoto
from tests.custom.helpers import texture_set, texture_zip, zip_of

URL = "/api/v1/custom-models"


@pytest.fixture
def spool_dir(settings: Any, tmp_path: Path) -> Path:
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "spool")
    Path(settings.FILE_UPLOAD_TEMP_DIR).mkdir()
    return Path(settings.FILE_UPLOAD_TEMP_DIR)


def archive(data: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile("set.zip", texture_zip(5) if data is None else data, content_type="application/zip")


def create(client: Client, **fields: Any) -> Any:
    return client.post(URL, {"name": "textures", "archive": archive(), **fields})


def test_a_created_model_answers_202_with_its_token_once_and_its_links(client: Client, spool_dir: Path) -> None:
    response = create(client, public="true")

    assert response.status_code == 202, response.content
    created = response.json()
    assert set(created) == {"name", "token", "job", "state", "status_url"}
    assert (created["name"], created["state"]) == ("textures", "training")
    assert response["Location"] == created["status_url"] == "/api/v1/custom-models/textures"
    model = CustomModel.objects.get(id=created["job"])
    assert (model.backbone, model.public, model.session_key) == ("efficientnet_lite0", True, "")
    assert model.token_sha256 == CustomModel.hash_token(created["token"]) and len(created["token"]) >= 40
    assert TrainingPhoto.objects.filter(model=model).count() == 10
    assert list(spool_dir.iterdir()) == []  # the spooled zip removed


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"public": "yes"}, 400, "Expected public to be true or false. Received 'yes'"),
        ({"name": "my model"}, 400, "Expected a model name of 1 to 64 letters, digits, '-' or '_'"),
        ({"name": "resnet50"}, 409, "not a pretrained model's"),
        ({"backbone": "alexnet"}, 400, "Received an unknown backbone: 'alexnet'"),
        ({"archive": archive(b"PK\x03\x04 not really")}, 400, "Expected a complete .zip archive"),
        ({"archive": SimpleUploadedFile("notes.txt", b"hello")}, 415, "Expected a .zip archive"),
        ({"archive": archive(zip_of([(p.name, p.data) for p in texture_set(5)[:6]]))}, 400, "'gravel' has 1"),
    ],
)
def test_bad_input_is_refused_naming_it_and_nothing_is_stored(
    client: Client, spool_dir: Path, fields: dict[str, Any], status: int, message: str
) -> None:
    response = create(client, **fields)
    assert response.status_code == status, response.content
    assert message in response.json()["error"]
    assert not CustomModel.objects.exists() and not TrainingPhoto.objects.exists()
    assert list(spool_dir.iterdir()) == []


def test_a_request_without_the_archive_or_not_multipart_is_refused(client: Client, spool_dir: Path) -> None:
    response = client.post(URL, {"name": "textures"})
    assert response.status_code == 400
    assert response.json()["error"] == (
        "Expected a .zip of one folder per class in the multipart field 'archive'. Received no file"
    )
    response = client.post(URL, b"{}", content_type="application/json")
    assert response.status_code == 400 and "Received Content-Type 'application/json'" in response.json()["error"]
    assert client.get(URL).status_code in (200, 405)  # GET is part A's list (405 until it is routed here)


def test_a_taken_name_is_409_and_the_first_model_stays(client: Client, spool_dir: Path) -> None:
    assert create(client).status_code == 202
    response = create(client, name="Textures")
    assert response.status_code == 409 and "which is taken" in response.json()["error"]
    assert CustomModel.objects.count() == 1


def test_the_token_holder_trains_again_and_others_get_404(client: Client, spool_dir: Path) -> None:
    created = create(client).json()
    CustomModel.objects.filter(id=created["job"]).update(state="failed", reason="Training failed: boom")
    again_url = f"{URL}/textures/train"

    assert client.post(again_url).status_code == 404
    assert client.post(again_url, HTTP_AUTHORIZATION="Bearer not-the-token").status_code == 404
    response = client.post(again_url, HTTP_AUTHORIZATION=f"Bearer {created['token']}")

    assert response.status_code == 202
    assert response.json() == {
        "name": "textures", "job": created["job"], "state": "training", "status_url": created["status_url"],
    }  # fmt: skip
    model = CustomModel.objects.get(id=created["job"])
    assert (model.state, model.reason, model.facts["attempt"]) == ("training", "", 2)
