"""Debian's chromium driven by Playwright against pytest-django's live_server.

One browser per session (pytest-playwright's `browser`), a new context per test. Playwright's own
browser download is never used: `make test` installs Debian's chromium and axe-core (npm).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from recognizer.inference.registry import ModelRegistry
from tests.images import png_bytes

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # a synthetic camera, so the camera button is exercised without hardware or a permission prompt
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"Browser tests need Debian's chromium at {CHROMIUM}: `make test` installs it (apt-get)")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "headless": True, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def base_url() -> None:
    """No fixed base URL: tests use the live server's. (Replaces pytest-playwright's fallback fixture,
    which pytest 9 warns about.)"""


@pytest.fixture(scope="session", autouse=True)
def _sync_playwright_beside_django() -> Iterator[None]:
    # Playwright's sync API keeps an event loop in the test thread; the ORM calls pytest-django makes
    # there (creating and flushing the test database) are still synchronous and safe.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture
def base(live_server: Any, registry: ModelRegistry) -> str:
    """The live server's URL, with every model of the shared registry already loaded."""
    return live_server.url


def collect_errors(page: Page) -> list[str]:
    """A list that fills with the page's uncaught JavaScript errors and console errors (CSP violations
    among them), leaving out the HTTP 4xx answers that tests provoke on purpose."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and "the server responded with a status of 4" not in message.text
            else None
        ),
    )
    return errors


@pytest.fixture
def page_errors(page: Page) -> Iterator[list[str]]:
    """The test fails if its page logged an error (see collect_errors)."""
    errors = collect_errors(page)
    yield errors
    assert errors == []


def new_page(browser: Browser, **context_args: Any) -> tuple[BrowserContext, Page]:
    context = browser.new_context(**context_args)
    return context, context.new_page()


def image_payload(name: str = "scene.png", data: bytes | None = None, mime_type: str = "image/png") -> dict[str, Any]:
    return {"name": name, "mimeType": mime_type, "buffer": png_bytes() if data is None else data}


DISPATCH_FILE_JS = """
([kind, name, type, b64]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type }));
  if (kind === "paste") {
    const paste = new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true, cancelable: true });
    document.body.dispatchEvent(paste);
    return;
  }
  const zone = document.getElementById("drop-zone");
  for (const event of ["dragenter", "dragover", "drop"]) {
    zone.dispatchEvent(new DragEvent(event, { dataTransfer: transfer, bubbles: true, cancelable: true }));
  }
}
"""


def dispatch_file(page: Page, kind: str, name: str, data: bytes, mime_type: str = "image/png") -> None:
    """Drop a file on the drop zone, or paste it, as the browser does: a DataTransfer in a real DOM event."""
    page.evaluate(DISPATCH_FILE_JS, [kind, name, mime_type, base64.b64encode(data).decode("ascii")])


def serious_axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now (injected via DevTools, not a tag)."""
    page.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;0")
    results = page.evaluate("() => axe.run(document, { resultTypes: ['violations'] })")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def assert_accessible(page: Page) -> None:
    assert AXE_JS.exists(), f"axe-core is missing at {AXE_JS}: `make test` installs it (npm ci)"
    violations = serious_axe_violations(page)
    assert violations == [], json.dumps(violations, indent=1)


def save_screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the window (0: nothing scrolls sideways).

    A table inside `.table-responsive` may still scroll within its own box (a very long label on a phone).
    """
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
