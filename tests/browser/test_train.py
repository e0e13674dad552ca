"""/train/ in Chromium with a real worker: upload a zip of two classes, watch the model's page follow the
training (train.js polls its status and redraws the chart) and turn into the result with the validation
accuracy; the class boxes with their names; no console errors (CSP), no serious axe violations."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from recognizer.custom.models import CustomModel
from tests.browser.conftest import assert_accessible, save_screenshot
from tests.custom.helpers import texture_set, texture_zip
from tests.jobs.conftest import StartWorker, broker, start_worker  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
TRAINED_TIMEOUT_MS = 300_000


def test_a_zip_uploaded_on_the_train_page_becomes_a_trained_model_with_its_accuracy(
    page: Page,
    live_server: Any,
    start_worker: StartWorker,  # noqa: F811
    page_errors: list[str],
) -> None:
    page.goto(f"{live_server.url}/train/")
    assert_accessible(page)
    page.get_by_label("Model name").fill("textures")
    page.get_by_label("Backbone").select_option("efficientnet_lite0")
    page.get_by_label("Training set (.zip)").set_input_files(
        {"name": "textures.zip", "mimeType": "application/zip", "buffer": texture_zip(8)}
    )
    with page.expect_navigation():
        page.get_by_role("button", name="Start training").click()
    assert re.fullmatch(rf"{live_server.url}/train/[0-9a-f-]+/", page.url)
    expect(page.locator("#train-state")).to_have_text("training")
    start_worker()

    expect(page.locator("#validation-accuracy")).to_have_text(re.compile(r"[0-9.]+%"), timeout=TRAINED_TIMEOUT_MS)
    model = CustomModel.objects.get(name="textures")
    assert model.state == "ready"
    expect(page.locator("#validation-accuracy")).to_have_text(f"{model.validation['accuracy'] * 100:.2f}%")
    expect(page.locator("#per-class tbody tr")).to_have_count(2)
    expect(page.locator("#train-epoch")).to_have_text(str(len(model.epochs)))
    expect(page.locator("#confusion-chart")).to_have_attribute("alt", re.compile("^Confusion matrix"))
    page.wait_for_function(
        "() => ['confusion-chart', 'train-chart'].every(id => document.getElementById(id).naturalWidth > 0)"
    )
    assert_accessible(page)
    save_screenshot(page, "train-result")

    page.get_by_role("link", name="History").click()
    expect(page.locator("#custom-models").get_by_role("link", name="textures")).to_be_visible()


def test_class_boxes_added_on_the_page_carry_their_names_and_photos(
    page: Page, live_server: Any, page_errors: list[str]
) -> None:
    photos = texture_set(5)
    page.goto(f"{live_server.url}/train/")
    page.get_by_label("Model name").fill("boxes")
    page.get_by_role("button", name="Add a class").click()
    for number, (label, chosen) in enumerate((("brick", photos[:5]), ("gravel", photos[5:8]), ("sand", photos[8:])), 1):
        page.get_by_label(f"Class {number} name").fill(label)
        page.get_by_label(f"Class {number} photos (choose or drop)").set_input_files(
            [
                {"name": f"{index}.jpg", "mimeType": "image/jpeg", "buffer": photo.data}
                for index, photo in enumerate(chosen)
            ]
        )
    page.get_by_role("button", name="Start training").click()

    expect(page.locator("#train-error")).to_contain_text("'gravel' has 3, 'sand' has 2")
    assert_accessible(page)
    expect(page.get_by_label("Model name")).to_have_value("boxes")
