from __future__ import annotations

import json
import socket
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from recognizer.inference.registry import ModelRegistry
from tests.images import encode, png_bytes, scene_rgb

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def two_images(tmp_path: Path) -> list[Path]:
    first, second = tmp_path / "scene.png", tmp_path / "scene.jpg"
    first.write_bytes(png_bytes())
    second.write_bytes(encode(scene_rgb(640, 480), "JPEG"))
    return [first, second]


def run_classify(*args: str) -> str:
    out = StringIO()
    call_command("classify", *args, stdout=out)
    return out.getvalue()


def test_classify_prints_a_table_of_five_rows_per_image(registry: ModelRegistry, two_images: list[Path]) -> None:
    output = run_classify(*map(str, two_images), "--model", "resnet50", "--top", "5")
    for path in two_images:
        section = output.split(str(path))[1].split("\n\n")[0]
        rows = [line for line in section.splitlines() if line.strip()[:1].isdigit()]
        assert len(rows) == 5
        assert all(" n" in row and row.endswith("%") for row in rows)


def test_classify_json_has_the_api_shape(registry: ModelRegistry, two_images: list[Path]) -> None:
    output = run_classify(str(two_images[0]), "--model", "vgg19", "--top", "3", "--json")
    result = json.loads(output)
    assert result["model"] == "vgg19"
    assert [set(p) for p in result["predictions"]] == [{"label", "class_id", "index", "score"}] * 3
    scores = [p["score"] for p in result["predictions"]]
    assert scores == sorted(scores, reverse=True)
    assert {"decode", "preprocess", "inference", "total"} <= set(result["timings_ms"])


def test_classify_reports_a_bad_file_and_exits_2(registry: ModelRegistry, tmp_path: Path) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    err = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("classify", str(text), stdout=StringIO(), stderr=err)
    assert failed.value.returncode == 2
    assert "Expected an image in one of JPEG, PNG, WebP, GIF or BMP" in err.getvalue()


def test_fetch_weights_offline_exits_2_with_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise socket.gaierror(-3, "Temporary failure in name resolution")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    with pytest.raises(CommandError) as failed:
        call_command("fetch_weights", "resnet50", stdout=StringIO())
    assert failed.value.returncode == 2
    message = str(failed.value)
    assert "\n" not in message
    assert message.startswith("resnet50: weights not available offline: downloading resnet50_weights_tf_dim_ordering")
    assert "Temporary failure in name resolution" in message
    assert "IMGREC_WEIGHTS_DIR" in message


def test_fetch_weights_refuses_an_unknown_name() -> None:
    with pytest.raises(CommandError, match="Expected one of") as failed:
        call_command("fetch_weights", "alexnet", stdout=StringIO())
    assert failed.value.returncode == 2


@pytest.mark.parametrize("command", ["migrate --no-input", "check", "collectstatic --no-input --dry-run"])
def test_management_commands_build_no_model(command: str, tmp_path: Path) -> None:
    script = (
        "import sys, django; django.setup();"
        "from django.core.management import call_command;"
        f"call_command(*{command.split()!r}, verbosity=0);"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    env = {
        "DJANGO_SETTINGS_MODULE": "imgrec_site.settings",
        "DJANGO_SECRET_KEY": "x",
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "IMGREC_PRELOAD": "true",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False False"
