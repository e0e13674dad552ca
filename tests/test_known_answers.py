"""Known answers on real photos, through the whole pipeline (form POST and CLI), with the real
ImageNet weights of EfficientNet-Lite0. The photos ship inside the scikit-image and matplotlib wheels."""

from __future__ import annotations

import json
import re
from io import StringIO
from pathlib import Path

import matplotlib
import pytest
import skimage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from recognizer.inference.registry import ModelRegistry

SKIMAGE_DATA = Path(skimage.__file__).parent / "data"
GRACE_HOPPER = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
CATS = {"tabby", "tiger cat", "Egyptian cat"}

pytestmark = pytest.mark.slow


def page_top5(client: Client, photo: Path) -> list[tuple[str, float]]:
    upload = SimpleUploadedFile(photo.name, photo.read_bytes())
    response = client.post("/", {"image": upload, "model": "efficientnet_lite0"}, follow=True)
    assert response.status_code == 200
    table = response.content.decode().split('id="predictions"')[1].split("</table>")[0]
    rows = re.findall(
        r"<tr[^>]*><td>\d</td><td><a [^>]+>([^<]+)</a></td><td><code>n\d{8}</code></td><td[^>]*>([\d.]+)%</td>", table
    )
    return [(label, float(percent) / 100) for label, percent in rows]


def cli_top5(photo: Path) -> list[tuple[str, float]]:
    out = StringIO()
    call_command("classify", str(photo), "--model", "efficientnet_lite0", "--json", stdout=out)
    return [(p["label"], p["score"]) for p in json.loads(out.getvalue())["predictions"]]


@pytest.fixture(params=["page", "cli"])
def top5(request: pytest.FixtureRequest, client: Client, registry: ModelRegistry):  # noqa: ANN201
    return (lambda photo: page_top5(client, photo)) if request.param == "page" else cli_top5


def test_coffee_is_espresso(top5) -> None:  # noqa: ANN001
    label, score = top5(SKIMAGE_DATA / "coffee.png")[0]
    assert label == "espresso"
    assert score > 0.5


def test_chelsea_is_a_cat(top5) -> None:  # noqa: ANN001
    assert top5(SKIMAGE_DATA / "chelsea.png")[0][0] in CATS


def test_grayscale_camera_man_is_a_tripod(top5) -> None:  # noqa: ANN001
    assert top5(SKIMAGE_DATA / "camera.png")[0][0] == "tripod"


def test_grace_hopper_wears_a_military_uniform(top5) -> None:  # noqa: ANN001
    assert "military uniform" in [label for label, _ in top5(GRACE_HOPPER)]
