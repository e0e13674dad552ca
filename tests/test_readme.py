"""Every shell command in README.md's code blocks, run as a newcomer would type it.

Each command runs in a subprocess from a fresh folder beside the checkout, with a clean environment:
no DJANGO_SECRET_KEY, no DJANGO_DEBUG, a fresh HOME. Photos the commands name (`photo.jpg`,
`cat.jpg`, ...) are real photos from scikit-image's data folder. Three things differ from a newcomer's
machine, each because tests never touch the network: `IMGREC_WEIGHTS=random` (ResNet50 and VGG19 have
no weights offline), `DATABASE_URL` points at a migrated SQLite file of the test's own, and a proxy
that refuses every connection stands in for "no network" (so `fetch_weights` must fail as the README
says offline runs fail: exit 2 and one line naming what to do). `curl` commands run against gunicorn
serving the checkout on a port of 18400-18499 with a secret key (serving needs one, as `make run`
gives it).

Not run here, with why: see NOT_RUN. A new kind of command in the README fails the test until it is
run here or listed there.
"""

from __future__ import annotations

import io
import json
import re
import shlex
import socket
import subprocess
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import skimage
from PIL import Image

PROJECT_ROOT = Path(__file__).resolve().parents[1]
README = PROJECT_ROOT / "README.md"
PHOTOS = Path(skimage.__file__).parent / "data"
PORTS = range(18400, 18500)
REFUSING_PROXY = "http://127.0.0.1:18499"  # nothing listens there (test_every_readme_command_... checks)

EXAMPLE_JOB_ID = "0f5e..."
JOBS_MADE: dict[str, str] = {}  # the id of the job the README's POST made, for the commands after it

NOT_RUN = {
    "make run": "serves until stopped; its parts (migrate, collectstatic, gunicorn) are run by tests/ops and below",
    "make test": "runs this very suite",
    "make dev": "serves until stopped (runserver)",
    "make bench": "takes minutes; bench/ prints figures, it asserts nothing",
    "make bench-quick": "takes minutes; bench/ prints figures, it asserts nothing",
    "make cluster": "serves until stopped; tests/ops/test_cluster.py runs deploy/cluster.sh with two nodes",
}


def readme_commands() -> list[str]:
    """The commands of every ```sh block: comments and blank lines dropped, `\\` continuations joined."""
    commands: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", README.read_text(), flags=re.DOTALL):
        pending = ""
        for line in block.splitlines():
            if not pending and (not line.strip() or line.lstrip().startswith("#")):
                continue
            pending += line.rstrip().removesuffix("\\")
            if not line.rstrip().endswith("\\"):
                commands.append(strip_comment(pending).strip())
                pending = ""
    return commands


def strip_comment(command: str) -> str:
    """`make run    # creates .venv` -> `make run` (a # inside quotes stays)."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=False)
    lexer.commenters = "#"
    lexer.whitespace_split = True
    return shlex.join(list(lexer))


def test_the_readme_has_commands_of_every_kind() -> None:
    commands = readme_commands()
    assert any(command.startswith(".venv/bin/python manage.py classify") for command in commands)
    assert any(command.startswith("curl") for command in commands)
    assert "make run" in commands


def test_every_readme_command_is_run_or_listed_as_not_run() -> None:
    unknown = [
        command
        for command in readme_commands()
        if command not in NOT_RUN and not command.startswith((".venv/bin/python manage.py ", "curl "))
    ]
    assert not unknown, f"run these in tests/test_readme.py or list them in NOT_RUN with why: {unknown}"


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | Path]:
    """A folder with `.venv` and `manage.py` as in the checkout, the photos the README names, and an env."""
    folder = tmp_path_factory.mktemp("newcomer")
    for name in (".venv", "manage.py"):
        (folder / name).symlink_to(PROJECT_ROOT / name)
    for name in named_files():
        write_named_file(folder, name)
    for name in named_folders():  # a folder of photos, one of them a level down
        (folder / name / "day2").mkdir(parents=True)
        Image.open(PHOTOS / "chelsea.png").convert("RGB").save(folder / name / "cat.jpg")
        Image.open(PHOTOS / "astronaut.png").convert("RGB").save(folder / name / "day2" / "astronaut.png")
    home = folder / "home"
    home.mkdir()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "IMGREC_WEIGHTS": "random",
        "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        "IMGREC_BROKER_DIR": str(folder / "broker"),  # the README's job waits in the embedded broker, here
        "https_proxy": REFUSING_PROXY,
        "http_proxy": REFUSING_PROXY,
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    migrate = run([".venv/bin/python", "manage.py", "migrate", "--no-input"], folder, env)
    assert migrate.returncode == 0, migrate.stderr
    return {"folder": folder, **env}


def named_files() -> set[str]:
    """Image files the commands name: `photo.jpg other.png`, `@cat.jpg`."""
    names = set()
    for command in readme_commands():
        for word in shlex.split(command):
            word = word.split("=@")[-1].removeprefix("@")
            if re.fullmatch(r"[\w-]+\.(jpg|jpeg|png|zip)", word):
                names.add(word)
    return names


def write_named_file(folder: Path, name: str) -> None:
    """A photo for `x.jpg` / `x.png`; for `x.zip`, an archive of two photos."""
    photo = Image.open(PHOTOS / "chelsea.png" if "cat" in name else PHOTOS / "coffee.png").convert("RGB")
    if not name.endswith(".zip"):
        photo.save(folder / name)
        return
    with zipfile.ZipFile(folder / name, "w") as archive:
        for member in ("day1/coffee.jpg", "day2/cat.jpg"):
            buffer = io.BytesIO()
            photo.save(buffer, "JPEG")
            archive.writestr(member, buffer.getvalue())


def named_folders() -> set[str]:
    """Folders the commands name, written with a trailing slash: `holiday/`."""
    return {word for command in readme_commands() for word in shlex.split(command) if re.fullmatch(r"[\w-]+/", word)}


def run(args: list[str], folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=folder, env=env, capture_output=True, text=True, timeout=600)


def split_newcomer(newcomer: dict[str, str | Path]) -> tuple[Path, dict[str, str]]:
    env = {key: str(value) for key, value in newcomer.items() if key != "folder"}
    return Path(newcomer["folder"]), env


MANAGE_COMMANDS = [command for command in readme_commands() if command.startswith(".venv/bin/python manage.py ")]
CURL_COMMANDS = [command for command in readme_commands() if command.startswith("curl ")]


@pytest.mark.parametrize("command", MANAGE_COMMANDS)
def test_readme_management_command(command: str, newcomer: dict[str, str | Path]) -> None:
    folder, env = split_newcomer(newcomer)
    words = shlex.split(command)
    redirect = words.index(">") if ">" in words else None
    if redirect is None:
        done = run(words, folder, env)
    else:  # `... > out.jsonl`: what the shell would write there
        done = run(words[:redirect], folder, env)
        (folder / words[redirect + 1]).write_text(done.stdout)
    if " fetch_weights " in f" {command} ":
        # Offline, as documented: exit 2 and one line saying what to do.
        assert done.returncode == 2, done.stderr
        last = done.stderr.strip().splitlines()[-1]
        assert "weights not available offline" in last and "IMGREC_WEIGHTS_DIR" in last
        return
    assert done.returncode == 0, f"{command}\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr
    if " classify " in command and "--csv" not in words:
        assert ("--json" in words) == done.stdout.startswith("{")
        for name in (word for word in words if word in named_files()):
            assert name in done.stdout
    for name in named_folders() & set(words):  # every photo in the folder is in the output
        output = done.stdout if "--csv" not in words else (folder / words[words.index("--csv") + 1]).read_text()
        assert f"{name}cat.jpg" in output and f"{name}day2/astronaut.png" in output


def free_port() -> int:
    for port in PORTS:
        if port == int(REFUSING_PROXY.rsplit(":", 1)[1]):
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"Expected a free port in {PORTS}. Received none")


@pytest.fixture(scope="module")
def served(newcomer: dict[str, str | Path]) -> Iterator[str]:
    _, env = split_newcomer(newcomer)
    port = free_port()
    server_env = {**env, "DJANGO_SECRET_KEY": "only-for-the-readme-test"}
    args = [
        str(PROJECT_ROOT / ".venv/bin/gunicorn"),
        "imgrec_site.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--threads",
        "4",
    ]
    # Served from the checkout, as `make run` serves it.
    with subprocess.Popen(args, cwd=PROJECT_ROOT, env=server_env, stderr=subprocess.PIPE, text=True) as server:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    server.kill()
                    pytest.fail(f"gunicorn did not start: {server.stderr.read() if server.stderr else ''}")
                time.sleep(0.2)
        yield base
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.parametrize("command", CURL_COMMANDS)
def test_readme_curl_command(command: str, served: str, newcomer: dict[str, str | Path]) -> None:
    folder, env = split_newcomer(newcomer)
    for proxy in ("https_proxy", "http_proxy"):
        env.pop(proxy)
    # The README's job commands name an example id ("0f5e..."): the job its own POST made stands in.
    command = command.replace(EXAMPLE_JOB_ID, JOBS_MADE.get("id", EXAMPLE_JOB_ID))
    args = [word.replace("http://127.0.0.1:8000", served) for word in shlex.split(command)]
    done = run([*args, "--silent", "--show-error", "--write-out", "\n%{http_code}"], folder, env)
    assert done.returncode == 0, done.stderr
    body, status = done.stdout.rsplit("\n", 1)
    assert status.startswith("2"), f"{command} -> {status} {body[:500]}"
    if command.endswith("/api/v1/jobs"):
        JOBS_MADE["id"] = json.loads(body)["id"]


def test_the_refusing_proxy_port_is_closed() -> None:
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(REFUSING_PROXY.rsplit(":", 1)[1])), timeout=2).close()
