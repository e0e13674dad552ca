"""Every page in Chromium at desktop and 375 px: axe-core, no sideways scrolling, and a screenshot each."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    assert_accessible,
    collect_errors,
    dispatch_file,
    horizontal_overflow,
    image_payload,
    new_page,
    save_screenshot,
)
from tests.browser.test_upload_page import RESULT_TIMEOUT_MS
from tests.images import encode, png_bytes, scene_rgb

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_upload(page: Page, base: str) -> None:
    page.goto(base)
    page.get_by_label("Image", exact=True).set_input_files(image_payload("scene.png"))
    expect(page.locator("#preview-image")).to_be_visible()


def open_live_result(page: Page, base: str) -> None:
    open_upload(page, base)
    page.get_by_role("button", name="Recognise").click()
    expect(page.locator("#live-result #predictions tbody tr")).to_have_count(5, timeout=RESULT_TIMEOUT_MS)


def open_result_page(page: Page, base: str) -> None:
    """The server-rendered result page: the form posted as a plain form, as when upload.js does not run."""
    page.route("**/recognizer/upload.js", lambda route: route.fulfill(body="", content_type="text/javascript"))
    page.goto(base)
    page.get_by_label("Image", exact=True).set_input_files(image_payload())
    with page.expect_navigation(timeout=RESULT_TIMEOUT_MS):
        page.get_by_role("button", name="Recognise").click(no_wait_after=True)
    expect(page.locator("#predictions tbody tr")).to_have_count(5)


def open_about(page: Page, base: str) -> None:
    page.goto(f"{base}/about/")


def open_compare(page: Page, base: str) -> None:
    page.goto(f"{base}/compare/")
    page.get_by_label("Image", exact=True).set_input_files(image_payload())
    with page.expect_navigation(timeout=RESULT_TIMEOUT_MS):
        page.get_by_role("button", name="Compare").click(no_wait_after=True)
    expect(page.locator("#ensemble")).to_be_visible()


def open_history(page: Page, base: str) -> None:
    open_result_page(page, base)
    page.get_by_role("link", name="History").click()
    expect(page.locator("#history tbody tr")).to_have_count(1)


def open_train(page: Page, base: str) -> None:
    page.goto(f"{base}/train/")
    page.get_by_role("button", name="Add a class").click()
    expect(page.get_by_label("Class 3 name")).to_be_focused()


def open_api_docs(page: Page, base: str) -> None:
    page.goto(f"{base}/api/docs")


PAGES: dict[str, Callable[[Page, str], None]] = {
    "upload": open_upload,
    "result-live": open_live_result,
    "result": open_result_page,
    "about": open_about,
    "compare": open_compare,
    "history": open_history,
    "train": open_train,
    "api-docs": open_api_docs,
}


@pytest.mark.parametrize("name", list(PAGES))
def test_page_is_accessible_and_fits_a_phone(base: str, browser: Browser, name: str) -> None:
    for label, viewport in (("desktop", DESKTOP), ("375px", PHONE)):
        context, page = new_page(browser, viewport=viewport)
        errors = collect_errors(page)
        try:
            PAGES[name](page, base)
            if label == "desktop":
                assert_accessible(page)
            save_screenshot(page, f"{name}-{label}")
            assert horizontal_overflow(page) <= 0, f"{name} scrolls sideways at {viewport['width']} px"
            assert errors == []
        finally:
            context.close()


def test_compare_shows_one_chart_per_model_and_the_ensemble(base: str, page: Page) -> None:
    open_compare(page, base)
    cards = page.locator("#comparison .card")
    models = ["resnet50", "vgg19", "efficientnet_lite0"]
    expect(cards).to_have_count(len(models) + 1)
    for name in models:
        chart = page.locator(f"#model-{name} img").first
        assert chart.get_attribute("alt").startswith("Bar chart of the top predictions: ")
        assert chart.evaluate("img => img.naturalWidth") > 0
        heatmap = page.locator(f"#model-{name} img.heatmap")
        assert heatmap.get_attribute("alt").startswith("Grad-CAM heatmap: where ")
        assert heatmap.evaluate("img => img.naturalWidth") > 0
    expect(page.locator("#ensemble img")).to_be_visible()
    expect(page.locator("#ensemble li")).to_have_count(5)


def test_history_lists_each_result_sent_with_or_without_the_enhancement(base: str, page: Page) -> None:
    open_live_result(page, base)
    live_label = page.locator("#live-result #predictions tbody tr").first.locator("td").nth(1).inner_text()
    second = image_payload("second.jpg", encode(scene_rgb(200, 150), "JPEG"), "image/jpeg")
    page.get_by_label("Image", exact=True).set_input_files(second)
    page.get_by_label("Model").select_option("vgg19")
    page.get_by_role("button", name="Recognise").click()
    expect(page.locator("#live-result-title")).to_contain_text("VGG19 sees:", timeout=RESULT_TIMEOUT_MS)
    open_result_page(page, base)
    page.get_by_role("link", name="History").click()
    rows = page.locator("#history tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("resnet50")  # newest first: the plain post
    expect(rows.nth(1)).to_contain_text("vgg19")
    expect(rows.nth(2)).to_contain_text(live_label)
    thumbnail_alt = re.compile("^Thumbnail of the image classified as")
    for row in range(3):
        expect(rows.nth(row).get_by_role("img")).to_have_attribute("alt", thumbnail_alt)


def test_compare_takes_a_dropped_photo_and_is_busy_while_working(base: str, page: Page, page_errors: list[str]) -> None:
    page.goto(f"{base}/compare/")
    dispatch_file(page, "drop", "dropped.png", png_bytes())
    expect(page.locator("#preview-caption")).to_contain_text("dropped.png")
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    # Two clicks in one go, and the page read right after them, before the answer replaces it.
    busy = page.evaluate(
        """() => {
          const button = document.getElementById("upload-submit");
          button.click();
          button.click();
          return [button.disabled, !document.getElementById("upload-progress").hidden,
                  document.getElementById("upload-progress-text").textContent];
        }"""
    )
    assert busy == [True, True, "Uploading and running every model…"]
    expect(page.locator("#comparison .card")).to_have_count(4, timeout=RESULT_TIMEOUT_MS)
    expect(page.get_by_role("button", name="Compare")).to_be_enabled()
    assert posts == [f"{base}/compare/"]
