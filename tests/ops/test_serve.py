"""deploy/serve.sh with a batch-job worker beside the front and the app: one stopping stops the others."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

SERVE = Path(__file__).resolve().parents[2] / "deploy" / "serve.sh"


def script(path: Path, body: str) -> Path:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def start(tmp_path: Path, worker_body: str) -> tuple[subprocess.Popen[str], Path]:
    pids = tmp_path / "pids"
    pids.mkdir()
    fake_nginx = script(tmp_path / "nginx", f"echo $$ > {pids}/nginx; exec sleep 600")
    app = script(tmp_path / "app", f"echo $$ > {pids}/app; exec sleep 600")
    worker = script(tmp_path / "worker", f"echo $$ > {pids}/worker; {worker_body}")
    front = tmp_path / "front"
    front.mkdir()
    env = {**os.environ, "NGINX_BIN": str(fake_nginx), "WORKER_COMMAND": str(worker)}
    process = subprocess.Popen(["bash", str(SERVE), str(front), str(app)], env=env, stderr=subprocess.PIPE, text=True)
    return process, pids


def wait_for_pids(pids: Path, names: tuple[str, ...]) -> dict[str, int]:
    while not all((pids / name).exists() and (pids / name).read_text().strip() for name in names):
        time.sleep(0.05)
    return {name: int((pids / name).read_text()) for name in names}


def test_sigterm_stops_the_worker_with_the_front_and_the_app(tmp_path: Path) -> None:
    process, pids = start(tmp_path, "exec sleep 600")
    started = wait_for_pids(pids, ("nginx", "app", "worker"))
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 143
    assert [name for name, pid in started.items() if alive(pid)] == []


def test_a_worker_that_exits_stops_the_front_and_the_app_and_is_reported(tmp_path: Path) -> None:
    process, pids = start(tmp_path, "sleep 1; exit 3")
    started = wait_for_pids(pids, ("nginx", "app", "worker"))
    assert process.wait(timeout=30) == 3
    assert "the worker exited (3)" in process.stderr.read()
    assert [name for name, pid in started.items() if alive(pid)] == []
