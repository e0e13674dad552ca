"""The Train page without JavaScript: the form (zip or class boxes), refusals shown on the form, the
model's page refreshing itself while it trains, then its result; only the session that trained it sees it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from recognizer.custom.models import CustomModel, TrainingPhoto
from recognizer.custom.runner import run_training
from recognizer.inference.catalog import SPECS_BY_NAME
from recognizer.inference.registry import ModelRegistry
from tests.custom.helpers import texture_set, texture_zip


@pytest.fixture(scope="module")
def lite0() -> Iterator[ModelRegistry]:
    registry = ModelRegistry([SPECS_BY_NAME["efficientnet_lite0"]], weights_mode="random")  # its bundled weights
    yield registry
    registry.close()


def zip_upload(per_class: int = 5) -> SimpleUploadedFile:
    return SimpleUploadedFile("set.zip", texture_zip(per_class), content_type="application/zip")


def post(client: Client, **fields: Any) -> Any:
    return client.post("/train/", {"name": "textures", "backbone": "efficientnet_lite0", **fields})


def model_of(response: Any) -> CustomModel:
    assert response.status_code == 303, response.content.decode()[-2000:]
    return CustomModel.objects.get(id=re.fullmatch(r"/train/([0-9a-f-]+)/", response["Location"])[1])


def test_the_train_page_is_in_the_navigation_with_a_zip_and_class_boxes(client: Client) -> None:
    page = client.get("/train/").content.decode()
    assert 'href="/train/">Train</a>' in page
    assert 'name="archive"' in page and 'name="class_name_1"' in page and 'name="class_photos_2"' in page
    assert '<option value="efficientnet_lite0" selected>EfficientNet-Lite0</option>' in page
    assert 'id="custom-models-empty"' in page


def test_a_model_page_refreshes_while_it_trains_then_shows_its_result_to_its_owner_only(
    client: Client, lite0: ModelRegistry
) -> None:
    model = model_of(post(client, archive=zip_upload(6)))
    url = f"/train/{model.id}/"

    training = client.get(url).content.decode()
    assert '<meta http-equiv="refresh" content="3">' in training
    assert '<strong id="train-state">training</strong>' in training and "0 / 12" in training
    assert client.get(f"{url}status.json").json()["stage"] == "queued"
    assert b"Waiting for the first epoch" in client.get(f"{url}progress.svg").content
    stranger = Client()
    for path in ("", "status.json", "progress.svg", "confusion.svg"):
        assert stranger.get(f"{url}{path}").status_code == 404
    assert client.get(f"{url}confusion.svg").status_code == 404  # no matrix before training

    assert run_training(model_id=model.id, attempt=1, registry=lite0)
    model.refresh_from_db()
    done = client.get(url).content.decode()

    assert 'http-equiv="refresh"' not in done
    accuracy = f"{model.validation['accuracy'] * 100:.2f}%"
    assert f'<strong id="validation-accuracy">{accuracy}</strong>' in done
    assert "on 2 held-out photos" in done and 'id="train-again"' not in done
    assert re.search(r'<th scope="row">brick</th><td>[0-9.]+%</td><td>[0-9.]+%</td><td>1</td><td>6</td>', done)
    assert f'Training took <strong id="training-seconds">{round(sum(model.facts["seconds"].values()), 1)} s' in done
    confusion = client.get(f"{url}confusion.svg")
    assert confusion["Content-Type"] == "image/svg+xml" and b"true class" in confusion.content
    assert b"brick" in confusion.content and b"gravel" in confusion.content
    assert f"Epoch {len(model.epochs)}".encode() in client.get(f"{url}progress.svg").content
    assert f'href="{url}">textures</a>' in client.get("/history/").content.decode()
    assert f'href="{url}">textures</a>' in client.get("/train/").content.decode()


def test_class_boxes_make_a_model_with_the_typed_class_names(client: Client) -> None:
    photos = texture_set(5)
    boxes = {
        "class_name_1": " red brick ",
        "class_photos_1": [SimpleUploadedFile(f"b{i}.jpg", p.data) for i, p in enumerate(photos[:5])],
        "class_name_2": "gravel",
        "class_photos_2": [SimpleUploadedFile(f"g{i}.jpg", p.data) for i, p in enumerate(photos[5:])],
        "class_name_3": "",
    }
    model = model_of(post(client, **boxes))
    assert model.classes == ["gravel", "red brick"]
    assert TrainingPhoto.objects.filter(model=model, label="red brick").first().name == "red brick/b0.jpg"


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({}, 400, "Expected a .zip of one folder per class, or photos in the class boxes. Received neither"),
        ({"archive": "zip", "class_name_1": "a", "class_photos_1": "photo"}, 400, "Received both"),
        ({"name": "bad name!", "archive": "zip"}, 400, "Expected a model name of 1 to 64 letters"),
        ({"name": "vgg19", "archive": "zip"}, 409, "not a pretrained model&#x27;s"),
        ({"backbone": "densenet121", "archive": "zip"}, 400, "Received an unknown backbone"),
        ({"class_name_1": "", "class_photos_1": "photo"}, 400, "Expected a name for class 1. Received 1 photos"),
        ({"class_name_1": "a", "class_photos_1": "photo", "class_name_2": "a", "class_photos_2": "photo"}, 400,
         "Expected a different name for each class. Received &#x27;a&#x27; twice"),
        ({"class_name_1": "a", "class_photos_1": "photo", "class_name_2": "b", "class_photos_2": "photo"}, 400,
         "at least 5 photos in each class"),
    ],
)  # fmt: skip
def test_refusals_are_shown_on_the_form_and_store_nothing(
    client: Client, fields: dict[str, Any], status: int, message: str
) -> None:
    photos = texture_set(5)

    def value(key: str, given: str) -> Any:
        if given == "zip":
            return zip_upload()
        return SimpleUploadedFile("p.jpg", photos[int(key[-1])].data) if given == "photo" else given

    data = {key: value(key, given) for key, given in fields.items()}
    response = post(client, **data)
    assert response.status_code == status
    page = response.content.decode()
    assert message in page and 'id="train-error"' in page and 'id="train-form"' in page
    assert not CustomModel.objects.exists()


def test_the_owner_trains_a_failed_model_again_from_its_page(client: Client) -> None:
    model = model_of(post(client, archive=zip_upload()))
    CustomModel.objects.filter(id=model.id).update(state="failed", stage="failed", reason="Training failed: boom")
    page = client.get(f"/train/{model.id}/").content.decode()
    assert "Training failed: boom" in page and 'id="train-again"' in page

    assert Client().post(f"/train/{model.id}/again/").status_code == 404
    response = client.post(f"/train/{model.id}/again/")

    assert response.status_code == 303 and response["Location"] == f"/train/{model.id}/"
    model.refresh_from_db()
    assert (model.state, model.stage, model.reason, model.facts["attempt"]) == ("training", "queued", "", 2)
