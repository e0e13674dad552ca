"""The hostile corpus through every door: the expected status and message, then the next good
request is answered normally, and no model's inference worker died on the way."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from recognizer.inference.registry import ModelRegistry
from tests.hostile_corpus import (
    BYTES_CORPUS,
    HOSTILE_CORPUS,
    HTTP_CLASSIFY_URLS,
    STORE_FOR_ORIENTATION,
    HostileCase,
    good_upload,
    oriented_png,
    post_case,
    response_message,
)
from tests.images import png_bytes


@pytest.fixture
def one_mb_cap(settings) -> None:  # noqa: ANN001
    settings.IMGREC_MAX_UPLOAD_MB = 1
    settings.IMGREC_MAX_UPLOAD_BYTES = 1024 * 1024


@pytest.mark.usefixtures("one_mb_cap")
@pytest.mark.parametrize("url", HTTP_CLASSIFY_URLS)
@pytest.mark.parametrize("case", HOSTILE_CORPUS, ids=str)
def test_http_answers_each_hostile_upload_then_the_next_good_one(
    registry: ModelRegistry, url: str, case: HostileCase
) -> None:
    client = Client(enforce_csrf_checks=False)
    response = post_case(client, url, case)
    assert response.status_code == case.status, response_message(response)[:2000]
    message = response_message(response)
    assert case.message in message
    assert "Traceback" not in message
    if case.status != 200:
        follow_up = post_case(client, url, good_upload())
        assert follow_up.status_code == 200, response_message(follow_up)[:2000]
    # No input may cost a model its worker: a dead one would be restarted, and counted.
    assert all(status.state == "ready" and status.restarts == 0 for status in registry.statuses())


def run_classify(path: Path) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("classify", str(path), "--model", "resnet50", "--json", stdout=out, stderr=err)
    except CommandError as failed:
        return failed.returncode, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("case", BYTES_CORPUS, ids=str)
def test_cli_answers_each_hostile_file_then_the_next_good_one(
    registry: ModelRegistry, tmp_path: Path, case: HostileCase
) -> None:
    (upload,) = case.files()
    path = tmp_path / "input.bin"
    path.write_bytes(upload.data)
    code, out, err = run_classify(path)
    if case.status == 200:
        assert code == 0, err
        assert len(json.loads(out)["predictions"]) == 5
    else:
        assert code == 2
        assert case.message in err
        good = tmp_path / "good.png"
        good.write_bytes(png_bytes())
        assert run_classify(good)[0] == 0


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../escape.png", ""),  # only a path for the CLI: the file is read where it is
        ("n" * 296 + ".png", "Expected a readable file. Received File name too long"),
        ("evil\x00.png", "Expected a readable file. Received embedded null byte"),
    ],
    ids=["dot-dot", "300 characters", "NUL"],
)
def test_cli_reports_unreadable_names_on_one_line(
    registry: ModelRegistry, tmp_path: Path, name: str, expected: str
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (tmp_path / "escape.png").write_bytes(png_bytes())
    code, _, err = run_classify(folder / name)
    if expected:
        assert code == 2
        assert expected in err and "Traceback" not in err
    else:
        assert code == 0, err


def test_every_exif_orientation_gets_the_upright_prediction(registry: ModelRegistry, tmp_path: Path) -> None:
    predictions = []
    for orientation in STORE_FOR_ORIENTATION:
        path = tmp_path / f"orientation-{orientation}.png"
        path.write_bytes(oriented_png(orientation))
        code, out, err = run_classify(path)
        assert code == 0, err
        predictions.append(json.loads(out)["predictions"])
    assert all(p == predictions[0] for p in predictions[1:])
