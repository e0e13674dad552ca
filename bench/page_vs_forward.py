"""Bare compiled forward (batch 1) vs one request through the upload page, in one process.

    .venv/bin/python bench/page_vs_forward.py [--repeats 20]

In-process (Django's test client, no HTTP); `make bench` measures the same over HTTP against gunicorn.
ResNet50 and VGG19 run with IMGREC_WEIGHTS=random (the same arithmetic as the real weights);
EfficientNet-Lite0 with its bundled weights. Also times Lite0's first (converting) and cached load.
Prints medians and the ratio page / forward, both measured in this run.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imgrec_site.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["IMGREC_WEIGHTS"] = "random"
os.environ["IMGREC_CACHE_DIR"] = tempfile.mkdtemp(prefix="imgrec-bench-cache-")
os.environ["IMGREC_MODELS"] = "resnet50,vgg19,efficientnet_lite0"
os.environ["IMGREC_RATE_LIMIT"] = ""
_WORKDIR = Path(tempfile.mkdtemp(prefix="imgrec-bench-"))
os.environ["DATABASE_URL"] = f"sqlite:///{_WORKDIR / 'db.sqlite3'}"

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from PIL import Image  # noqa: E402

from bench.common import unique_upload  # noqa: E402
from recognizer import serving  # noqa: E402
from recognizer.inference.catalog import SPECS_BY_NAME  # noqa: E402
from recognizer.inference.zoo.efficientnet_lite import build_efficientnet_lite0, bundled_weights_path  # noqa: E402


def photo_jpeg(width: int = 1024, height: int = 768) -> bytes:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(height // 8, width // 8, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).resize((width, height), Image.Resampling.BILINEAR).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def median_ms(action, repeats: int) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def lite0_load_times() -> tuple[float, float]:
    cache_dir = Path(settings.IMGREC_CACHE_DIR)
    start = time.perf_counter()
    build_efficientnet_lite0(bundled_weights_path(), cache_dir=cache_dir)
    first = time.perf_counter() - start
    start = time.perf_counter()
    build_efficientnet_lite0(bundled_weights_path(), cache_dir=cache_dir)
    return first, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    repeats = parser.parse_args().repeats

    first_load, cached_load = lite0_load_times()
    print(f"EfficientNet-Lite0 load: first (convert + cache) {first_load:.2f} s, cached {cached_load:.2f} s")

    call_command("migrate", verbosity=0)
    settings.MEDIA_ROOT = _WORKDIR / "media"
    setup_test_environment()
    registry = serving.get_registry()
    client = Client()
    jpeg = photo_jpeg()
    print(f"{'model':<20} {'forward b=1 ms':>15} {'page ms':>10} {'page/forward':>13}")
    for name in ("resnet50", "vgg19", "efficientnet_lite0"):
        compiled = registry.get(name).compiled
        size = SPECS_BY_NAME[name].input_size
        batch = np.zeros((1, size, size, 3), dtype=np.float32)
        for _ in range(3):
            compiled.forward(batch)

        def post_page() -> None:
            upload = io.BytesIO(unique_upload(jpeg))  # new bytes each time: no answer from the history cache
            # POST / answers 303 to the result's permalink; a browser then GETs it (chart included).
            response = client.post("/", {"image": upload, "model": name}, follow=True)  # noqa: B023
            assert response.status_code == 200 and response.redirect_chain, response.status_code

        post_page()
        forward = median_ms(lambda: compiled.forward(batch), repeats)  # noqa: B023
        page = median_ms(post_page, repeats)
        print(f"{name:<20} {forward:>15.1f} {page:>10.1f} {page / forward:>13.2f}")


if __name__ == "__main__":
    main()
