"""The pages as a new user first sees them: no ResNet50/VGG19 weights on the machine (an empty Keras
cache, `IMGREC_WEIGHTS=imagenet`), so EfficientNet-Lite0 is the one usable model.

Short model states where space is short, the full advice on About only, nothing that scrolls
sideways at 375 px, and no ensemble of one model.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Page, expect

from recognizer.inference.registry import ModelRegistry
from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    assert_accessible,
    collect_errors,
    horizontal_overflow,
    image_payload,
    new_page,
    save_screenshot,
)
from tests.browser.test_pages import open_about, open_api_docs, open_history, open_result_page, open_upload
from tests.conftest import OfflineRegistry

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OFFLINE_SUMMARY = "unavailable: no weights offline"


@pytest.fixture
def offline(offline_registry: OfflineRegistry) -> ModelRegistry:
    """The default three models, offline: ResNet50 and VGG19 failed for want of weights, Lite0 ready."""
    registry = offline_registry(["resnet50", "vgg19", "efficientnet_lite0"])
    registry.load("efficientnet_lite0")
    return registry


def open_compare_with_one_model(page: Page, base: str) -> None:
    page.goto(f"{base}/compare/")
    page.get_by_label("Image", exact=True).set_input_files(image_payload())
    with page.expect_navigation():
        page.get_by_role("button", name="Compare").click()
    expect(page.locator("#model-efficientnet_lite0 li")).to_have_count(5)


OFFLINE_PAGES: dict[str, Callable[[Page, str], None]] = {
    "upload": open_upload,
    "result": open_result_page,
    "about": open_about,
    "compare": open_compare_with_one_model,
    "history": open_history,
    "api-docs": open_api_docs,
}


def test_no_page_scrolls_sideways_offline_at_desktop_and_375_px(
    base: str, browser: Browser, offline: ModelRegistry
) -> None:
    too_wide: list[str] = []
    for name, open_page in OFFLINE_PAGES.items():
        for label, viewport in (("desktop", DESKTOP), ("375px", PHONE)):
            context, page = new_page(browser, viewport=viewport)
            errors = collect_errors(page)
            try:
                open_page(page, base)
                if label == "desktop":
                    assert_accessible(page)
                save_screenshot(page, f"offline-{name}-{label}")
                if horizontal_overflow(page) > 0:
                    too_wide.append(f"{name} at {viewport['width']} px: {horizontal_overflow(page)} px too wide")
                assert errors == [], name
            finally:
                context.close()
    assert too_wide == []


@pytest.mark.parametrize(("label", "viewport"), [("desktop", DESKTOP), ("375px", PHONE)])
def test_home_shows_short_states_and_about_the_full_advice(
    base: str, browser: Browser, offline: ModelRegistry, label: str, viewport: dict[str, int]
) -> None:
    context, page = new_page(browser, viewport=viewport)
    errors = collect_errors(page)
    try:
        # The labels are drawn by the server, then again by upload.js from /api/v1/models: both must agree.
        with page.expect_response("**/api/v1/models"):
            page.goto(base)
        for name, model_label in (("resnet50", "ResNet50"), ("vgg19", "VGG19")):
            option = page.locator(f'#id_model option[value="{name}"]')
            expect(option).to_have_text(f"{model_label} ({OFFLINE_SUMMARY})")
            expect(option).to_be_disabled()
            expect(page.locator(f'[data-model-summary="{name}"]')).to_have_text(OFFLINE_SUMMARY)
            expect(page.locator(f'[data-model-state="{name}"]')).to_have_text("failed")
        expect(page.get_by_label("Model")).to_have_value("efficientnet_lite0")
        expect(page.locator("#default-model-note")).to_contain_text(
            f"EfficientNet-Lite0 is preselected because ResNet50 is {OFFLINE_SUMMARY}."
        )
        body = page.locator("body").inner_text()
        assert "fetch_weights" not in body and "IMGREC_WEIGHTS_DIR" not in body and "Errno" not in body
        save_screenshot(page, f"offline-home-states-{label}")

        page.get_by_role("link", name="How to add the missing weights").click()
        resnet = page.locator(".model-reason").first
        expect(resnet).to_contain_text("python manage.py fetch_weights resnet50")
        expect(resnet).to_contain_text("resnet50_weights_tf_dim_ordering_tf_kernels.h5 in IMGREC_WEIGHTS_DIR")
        assert horizontal_overflow(page) <= 0
        assert errors == []
    finally:
        context.close()


@pytest.mark.parametrize(("label", "viewport"), [("desktop", DESKTOP), ("375px", PHONE)])
def test_compare_with_one_usable_model_shows_it_alone(
    base: str, browser: Browser, offline: ModelRegistry, label: str, viewport: dict[str, int]
) -> None:
    context, page = new_page(browser, viewport=viewport)
    errors = collect_errors(page)
    try:
        open_compare_with_one_model(page, base)
        expect(page.locator("#comparison .card")).to_have_count(1)
        expect(page.locator("#ensemble")).to_have_count(0)
        expect(page.get_by_text(re.compile(r"Ensemble \(mean"))).to_have_count(0)
        expect(page.locator("#agreement caption")).to_have_text(
            "Only EfficientNet-Lite0 is ready: nothing to compare it with, and no ensemble"
        )
        expect(page.locator(".alert-secondary")).to_have_text(
            [f"ResNet50 skipped: {OFFLINE_SUMMARY} (why)", f"VGG19 skipped: {OFFLINE_SUMMARY} (why)"]
        )
        save_screenshot(page, f"offline-compare-one-model-{label}")
        assert horizontal_overflow(page) <= 0
        assert errors == []
    finally:
        context.close()
