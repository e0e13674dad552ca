"""Real Celery workers (separate processes) on the Redis broker (DB 7 of the local server) and the test
database. The test's rows must be committed for a worker to see them: tests here use `transactional_db`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
WORKER_START_S = 120
# A chunk whose worker was killed comes back after this many seconds (Redis' visibility timeout).
VISIBILITY_S = 4


class Worker:
    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process = process
        self.log = log

    def kill(self) -> None:
        """kill -9: no chance to requeue or acknowledge anything."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


StartWorker = Callable[..., Worker]


@pytest.fixture
def broker() -> Iterator[str]:
    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis://"):
        pytest.fail(f"tests/jobs/ need the Redis broker (IMGREC_BROKER_URL=redis://...). Received {url!r}")
    client = redis.Redis.from_url(url)
    client.flushdb()  # only this test's DB (7): nothing left over from another test's jobs
    yield url
    client.flushdb()


@pytest.fixture
def start_worker(transactional_db: None, broker: str, tmp_path: Path) -> Iterator[StartWorker]:
    """`start_worker()` runs `celery worker` in a process of its own against the test database and waits until
    it consumes; every worker started is stopped after the test."""
    started: list[Worker] = []
    database = connection.settings_dict

    def start(*, models: str = "efficientnet_lite0", chunk: int = 4, **overrides: str) -> Worker:
        """`overrides`: more environment for the worker (IMGREC_BROKER_URL=filesystem://, ...)."""
        env = {
            **os.environ,
            "DATABASE_URL": (
                f"postgres://{database['USER']}:{database['PASSWORD']}@{database['HOST']}:{database['PORT']}"
                f"/{database['NAME']}"
            ),
            "IMGREC_BROKER_URL": broker,
            "IMGREC_BROKER_VISIBILITY_S": str(VISIBILITY_S),
            "IMGREC_JOB_CHUNK": str(chunk),
            "IMGREC_WEIGHTS": "random",
            "IMGREC_MODELS": models,
            "IMGREC_CACHE_DIR": str(tmp_path / "cache"),
            "DJANGO_SECRET_KEY": "only-for-tests",
            "DJANGO_CONN_MAX_AGE": "0",
            **overrides,
        }
        log = tmp_path / f"worker-{len(started)}.log"
        ready = tmp_path / f"worker-{len(started)}.ready"
        command = [
            sys.executable, "-m", "celery", "-A", "recognizer.jobs.celery", "worker",
            "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO",
            f"--hostname=test{len(started)}@%h",
        ]  # fmt: skip
        with open(log, "wb") as out:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        worker = Worker(process, log)
        started.append(worker)
        deadline = time.monotonic() + WORKER_START_S
        while b"ready." not in log.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"The worker did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        ready.touch()
        return worker

    yield start
    for worker in started:
        worker.stop()
