from __future__ import annotations

import json
import os
import pty
import re
import socket
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from recognizer.inference.registry import ModelRegistry
from tests.custom.fixtures import MakeCustomModel
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


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "holiday"
    (root / "day2").mkdir(parents=True)
    (root / "beach.jpg").write_bytes(encode(scene_rgb(500, 375), "JPEG"))
    (root / "day2" / "broken.jpg").write_bytes(encode(scene_rgb(500, 375), "JPEG")[:300])
    (root / "day2" / "hill.png").write_bytes(png_bytes())
    (root / "readme.txt").write_text("not a photo")
    return root


def test_classify_a_folder_as_json_lines_in_sorted_order(registry: ModelRegistry, folder: Path) -> None:
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("classify", str(folder), "--model", "resnet50", "--top", "2", "--json", stdout=out, stderr=err)
    assert failed.value.returncode == 2
    assert str(failed.value) == "1 of 3 images could not be classified"
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["image"] for line in lines] == [
        str(folder / "beach.jpg"),
        str(folder / "day2" / "broken.jpg"),
        str(folder / "day2" / "hill.png"),
    ]
    assert set(lines[1]) == {"image", "error"} and "truncated" in lines[1]["error"]
    assert [len(line["predictions"]) for line in (lines[0], lines[2])] == [2, 2]
    assert lines[0]["model"] == "resnet50"
    assert f"{folder / 'day2' / 'broken.jpg'}: " in err.getvalue()
    assert "skipped 1 files" in err.getvalue()
    assert "images/s" not in err.getvalue()  # stderr is no terminal: no progress bar


def test_classify_to_csv_has_a_row_per_prediction_and_one_per_error(
    registry: ModelRegistry, folder: Path, tmp_path: Path
) -> None:
    destination = tmp_path / "out.csv"
    with pytest.raises(CommandError):
        call_command(
            "classify", str(folder), "--model", "vgg19", "--top", "3", "--csv", str(destination), stderr=StringIO()
        )
    table = pd.read_csv(destination)
    assert list(table.columns) == ["image", "model", "rank", "label", "class_id", "index", "score", "error"]
    assert len(table) == 3 + 1 + 3
    assert table["rank"].dropna().astype(int).tolist() == [1, 2, 3, 1, 2, 3]
    errors = table[table["error"].notna()]
    assert errors["image"].tolist() == [str(folder / "day2" / "broken.jpg")]
    assert set(table["model"].dropna()) == {"vgg19"}


def test_classify_refuses_json_and_csv_together(folder: Path, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="not allowed with argument"):
        call_command("classify", str(folder), "--json", "--csv", str(tmp_path / "x.csv"))


def test_classify_an_unknown_model_exits_2_naming_the_choices(registry: ModelRegistry, folder: Path) -> None:
    with pytest.raises(CommandError, match="Expected one of") as failed:
        call_command("classify", str(folder), "--model", "alexnet", stdout=StringIO(), stderr=StringIO())
    assert failed.value.returncode == 2


def test_classify_a_folder_without_images_exits_2(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no photos here")
    with pytest.raises(CommandError, match="Received none") as failed:
        call_command("classify", str(tmp_path), stderr=StringIO())
    assert failed.value.returncode == 2


def classify_on_a_terminal(folder: Path, tmp_path: Path, *, stdout_too: bool) -> tuple[int, str, str]:
    """Run classify --json with stderr (and maybe stdout) on a pseudo-terminal: (status, terminal, stdout)."""
    controller, terminal = pty.openpty()
    env = {
        "PATH": "/usr/bin:/bin",
        "IMGREC_WEIGHTS": "random",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    with subprocess.Popen(
        [sys.executable, "manage.py", "classify", str(folder), "--model", "efficientnet_lite0", "--json"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=terminal if stdout_too else subprocess.PIPE,
        stderr=terminal,
    ) as process:
        os.close(terminal)
        seen = b""
        while chunk := _read_pty(controller):
            seen += chunk
        stdout = process.stdout.read() if process.stdout else b""
    os.close(controller)
    return process.returncode, seen.decode(), stdout.decode()


def test_classify_draws_a_progress_bar_on_a_terminal(folder: Path, tmp_path: Path) -> None:
    status, terminal, stdout = classify_on_a_terminal(folder, tmp_path, stdout_too=False)
    assert status == 2
    assert re.search(r"\r\[#+\] 3/3  \d+\.\d images/s  in 0:\d\d", terminal), terminal
    assert len(stdout.splitlines()) == 3  # the bar never goes to stdout


def test_output_on_the_same_terminal_is_never_mixed_into_the_bar(folder: Path, tmp_path: Path) -> None:
    status, terminal, _ = classify_on_a_terminal(folder, tmp_path, stdout_too=True)
    assert status == 2
    pieces = re.split(r"\r\n|\r\x1b\[K|\r(?=\[)", terminal)
    records = [json.loads(piece) for piece in pieces if piece.startswith("{")]
    assert [Path(record["image"]).name for record in records] == ["beach.jpg", "broken.jpg", "hill.png"]


def _read_pty(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except OSError:  # EIO: the child closed the terminal
        return b""


def test_classify_uses_any_custom_model_the_cli_being_trusted(
    registry: ModelRegistry, make_custom_model: MakeCustomModel, brick_photo: bytes, tmp_path: Path
) -> None:
    make_custom_model("walls", session_key="someone-elses-browser")  # private, and still usable here
    (tmp_path / "brick.jpg").write_bytes(brick_photo)
    out = StringIO()
    call_command("classify", str(tmp_path), "--model", "walls", "--json", stdout=out, stderr=StringIO())
    answer = json.loads(out.getvalue().splitlines()[0])
    assert [p["label"] for p in answer["predictions"]] == ["brick", "gravel"]
