"""A browser's custom models on the pages: in the home page's dropdown, on compare, on About with their
training facts, and the owner's download / make public / delete buttons (another browser gets 404)."""

from __future__ import annotations

import io
import zipfile

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from recognizer.custom.models import CustomModel
from recognizer.inference.registry import ModelRegistry
from recognizer.jobs.models import Job
from tests.custom.fixtures import MakeCustomModel


def browser_with_session() -> tuple[Client, str]:
    client = Client()
    session = client.session
    session["keeps_history"] = True
    session.save()
    return client, session.session_key


def test_the_home_page_offers_this_browsers_ready_models_and_classifies_with_one(
    registry: ModelRegistry, make_custom_model: MakeCustomModel, brick_photo: bytes
) -> None:
    browser, session_key = browser_with_session()
    make_custom_model("walls", session_key=session_key)
    make_custom_model("growing", session_key=session_key, state="training")
    make_custom_model("theirs", session_key="another-session")
    page = browser.get("/").content.decode()
    assert '<option value="walls">walls (custom)</option>' in page
    assert 'value="growing"' not in page and 'value="theirs"' not in page
    image = SimpleUploadedFile("brick.jpg", brick_photo, content_type="image/jpeg")
    posted = browser.post("/", {"image": image, "model": "walls", "top_k": "5"})
    assert posted.status_code == 303
    result = browser.get(posted["Location"]).content.decode()
    assert "brick" in result and "gravel" in result
    assert "Top 2 of the classes of the custom model walls" in result
    stranger = Client().post("/", {"image": SimpleUploadedFile("b.jpg", brick_photo), "model": "walls"})
    assert stranger.status_code == 400 and "Received: &#x27;walls&#x27;" in stranger.content.decode()


def test_compare_sets_this_browsers_model_beside_the_pretrained_ones(
    registry: ModelRegistry, make_custom_model: MakeCustomModel, brick_photo: bytes
) -> None:
    browser, session_key = browser_with_session()
    make_custom_model("walls", session_key=session_key)
    image = SimpleUploadedFile("brick.jpg", brick_photo, content_type="image/jpeg")
    page = browser.post("/compare/", {"image": image}).content.decode()
    assert 'id="model-walls"' in page and "custom: brick, gravel" in page
    assert 'id="model-efficientnet_lite0"' in page and "Ensemble" in page


def test_about_lists_custom_models_with_their_facts_and_the_owner_manages_them(
    registry: ModelRegistry, make_custom_model: MakeCustomModel
) -> None:
    browser, session_key = browser_with_session()
    mine = make_custom_model("walls", session_key=session_key)
    make_custom_model("shared", session_key="another-session", public=True)
    make_custom_model("hidden", session_key="another-session")
    about = browser.get("/about/").content.decode()
    assert 'data-custom-model="walls"' in about and 'data-custom-model="shared"' in about
    assert 'data-custom-model="hidden"' not in about
    assert f"{mine.validation['accuracy'] * 100:.1f}%" in about and "efficientnet_lite0" in about
    assert about.count(">Delete</button>") == 1  # only on its own model
    download = browser.get("/custom/walls/download")
    assert download.status_code == 200
    assert sorted(zipfile.ZipFile(io.BytesIO(download.content)).namelist()) == [
        "backbone.json",
        "labels.json",
        "model.keras",
    ]
    assert browser.post("/custom/walls/public/", {"public": "true"}).status_code == 303
    assert CustomModel.objects.get(name="walls").public
    stranger = Client()
    assert stranger.post("/custom/walls/delete/").status_code == 404
    assert stranger.get("/custom/walls/download").status_code == 404
    assert stranger.post("/custom/shared/delete/").status_code == 404
    assert browser.post("/custom/walls/public/", {"public": "maybe"}).status_code == 400
    assert browser.post("/custom/walls/delete/").status_code == 303
    assert not CustomModel.objects.filter(name="walls").exists()
    assert CustomModel.objects.filter(name="shared").exists()


def test_the_owner_forms_need_the_pages_csrf_token(make_custom_model: MakeCustomModel) -> None:
    browser = Client(enforce_csrf_checks=True)
    session = browser.session
    session.save()
    make_custom_model("walls", session_key=session.session_key)
    assert browser.post("/custom/walls/delete/").status_code == 403
    assert CustomModel.objects.filter(name="walls").exists()


def test_the_batch_page_offers_this_browsers_model_and_refuses_it_to_anyone_else(
    make_custom_model: MakeCustomModel, brick_photo: bytes
) -> None:
    browser, session_key = browser_with_session()
    make_custom_model("walls", session_key=session_key)
    assert '<option value="walls">walls (custom)</option>' in browser.get("/batch/").content.decode()
    photo = SimpleUploadedFile("b.jpg", brick_photo)
    posted = browser.post("/batch/", {"model": "walls", "top_k": "3", "images": [photo]})
    assert posted.status_code == 303
    assert Job.objects.get(session_key=session_key).model == "walls"
    stranger = Client().post("/batch/", {"model": "walls", "images": [SimpleUploadedFile("b.jpg", brick_photo)]})
    assert stranger.status_code == 400 and "walls" in stranger.content.decode()
    assert Job.objects.count() == 1
