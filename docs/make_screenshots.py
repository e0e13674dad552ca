"""Take docs/screenshot-home.png and docs/screenshot-result.png from a running server.

    make dev  # or any server on http://127.0.0.1:8000
    .venv/bin/python docs/make_screenshots.py [URL]

Uses Debian's chromium like tests/browser/, and scikit-image's coffee photo (a dev requirement).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from PIL import Image
from playwright.sync_api import expect, sync_playwright
from skimage import data

DOCS = Path(__file__).resolve().parent
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def small_png(png: bytes, path: Path) -> None:
    """Half size, 64 colours: a few dozen KB in the repository."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image = image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS)
    image.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def main(url: str) -> None:
    coffee = io.BytesIO()
    Image.fromarray(data.coffee()).save(coffee, format="JPEG", quality=90)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 860}, device_scale_factor=2)
        page.goto(url)
        page.get_by_label("Image", exact=True).set_input_files(
            {"name": "coffee.jpg", "mimeType": "image/jpeg", "buffer": coffee.getvalue()}
        )
        expect(page.locator("#preview-image")).to_be_visible()
        small_png(page.screenshot(), DOCS / "screenshot-home.png")
        page.get_by_role("button", name="Recognise").click()
        expect(page.locator("#live-result #predictions tbody tr")).to_have_count(5)
        page.locator("#live-result").scroll_into_view_if_needed()
        small_png(page.screenshot(), DOCS / "screenshot-result.png")
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000")
