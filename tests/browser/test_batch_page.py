"""/batch/ in Chromium with a real worker: choose photos, start the job, and watch the page turn into the
gallery (batch.js polls the status JSON); no console errors (CSP), no serious axe violations."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import assert_accessible, save_screenshot
from tests.jobs.conftest import StartWorker, broker, start_worker  # noqa: F401  (fixtures)
from tests.jobs.helpers import jpeg

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_photos_chosen_on_the_batch_page_become_a_gallery(
    page: Page,
    live_server: Any,
    start_worker: StartWorker,  # noqa: F811
    page_errors: list[str],
) -> None:
    page.goto(f"{live_server.url}/batch/")
    assert_accessible(page)
    page.get_by_label("Photos (choose or drop many)").set_input_files(
        [{"name": f"photo{index}.jpg", "mimeType": "image/jpeg", "buffer": jpeg(index)} for index in range(3)]
    )
    page.get_by_label("Model").select_option("efficientnet_lite0")
    with page.expect_navigation():
        page.get_by_role("button", name="Start the job").click()
    expect(page.locator("#job-state")).to_have_text("queued")
    start_worker()

    expect(page.locator("#gallery figure")).to_have_count(3, timeout=180_000)
    expect(page.locator("#job-state")).to_have_text("done")
    expect(page.locator("#job-count")).to_have_text("3 / 3")
    assert_accessible(page)
    save_screenshot(page, "batch-job-done")
