"""Slow and idle clients against a running server: does /healthz still answer, and who closes them?

    .venv/bin/python -m bench.slow_clients [--url http://127.0.0.1:8000] [--connections 1000] [--hold 30]

against a server already running (`make run`); `make bench` runs it against a `make run` of its own.

Opens `--connections` TCP connections in three flavours and keeps them open for `--hold` seconds:
  - silent:  connect and send nothing;
  - headers: send `GET / HTTP/1.1` and one header line, never the blank line that ends the headers;
  - body:    send complete headers of a classify POST announcing 1,000,000 bytes, then 1,000 of them.
Meanwhile it times `GET /healthz` and a real `POST /api/v1/classify` (a small random PNG, multipart
field `image`) on fresh connections, and reports p50/max of each, the probes that got no answer
within `--probe-timeout`, and how many idle connections the server closed and after how long.

A benchmark, not a test: it prints figures. Loopback only, bounded in connections and time. The
server's rate limit counts the classify probes (IMGREC_RATE_LIMIT, 60/minute by default): the few
sent here stay under it.
"""

from __future__ import annotations

import argparse
import http.client
import io
import ipaddress
import os
import secrets
import selectors
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from PIL import Image

from bench.common import ROOT, Row, Section, free_port, percentile, verdict

FLAVOURS = ("silent", "headers", "body")
MAX_CONNECTIONS = 5000
MAX_HOLD_S = 300.0
RUN_SEED = secrets.randbits(64)


@dataclass
class Idle:
    """One idle connection: its flavour, when its bytes were sent, and when the server closed it."""

    flavour: str
    sock: socket.socket
    sent_at: float
    closed_after_s: float | None = None
    answered: bool = False  # the server wrote something (an error status) before closing


@dataclass
class Probes:
    ok_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def opening_bytes(flavour: str, host: str) -> bytes:
    if flavour == "silent":
        return b""
    if flavour == "headers":
        return f"GET / HTTP/1.1\r\nHost: {host}\r\n".encode()
    boundary = "slow-" + uuid.uuid4().hex
    head = (
        f"POST /api/v1/classify HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: 1000000\r\n\r\n"
    )
    return head.encode() + f"--{boundary}\r\n".encode() + b"x" * 1000


def open_idle(host: str, port: int, count: int) -> list[Idle]:
    """`count` connections, flavours in turn; a connection the server refuses is not counted."""
    idle = []
    for index in range(count):
        flavour = FLAVOURS[index % len(FLAVOURS)]
        try:
            sock = socket.create_connection((host, port), timeout=5)
            sock.sendall(opening_bytes(flavour, host))
        except OSError:
            continue
        sock.setblocking(False)
        idle.append(Idle(flavour, sock, time.perf_counter()))
    return idle


def watch_closures(idle: list[Idle], until: float) -> None:
    """Record when the server closes each connection (EOF or reset), until `until`."""
    selector = selectors.DefaultSelector()
    for connection in idle:
        selector.register(connection.sock, selectors.EVENT_READ, connection)
    while selector.get_map() and time.perf_counter() < until:
        for key, _ in selector.select(timeout=0.2):
            connection: Idle = key.data
            try:
                data = connection.sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data:
                connection.answered = True
                continue
            connection.closed_after_s = time.perf_counter() - connection.sent_at
            selector.unregister(connection.sock)
    selector.close()


def small_png(seed: int) -> bytes:
    """A 64x64 PNG of random pixels: a new one per probe and per run, so the history cache never answers."""
    pixels = np.random.default_rng([RUN_SEED, seed]).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def classify_body(png: bytes, model: str) -> tuple[bytes, str]:
    boundary = "probe-" + uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\n{model}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="probe.png"\r\n'
        "Content-Type: image/png\r\n\r\n".encode()
        + png
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


@dataclass(frozen=True)
class Prober:
    """Requests a new client would make, each on its own connection, with a bound on the wait."""

    host: str
    port: int
    timeout_s: float
    model: str

    def request(self, method: str, path: str, body: bytes = b"", content_type: str = "") -> float:
        """Milliseconds until a 200 answer was read; raises on no answer or another status."""
        start = time.perf_counter()
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        try:
            headers = {"Content-Type": content_type} if content_type else {}
            connection.request(method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"status {response.status}")
        finally:
            connection.close()
        return (time.perf_counter() - start) * 1000.0

    def healthz(self, _: int) -> float:
        return self.request("GET", "/healthz")

    def classify(self, seed: int) -> float:
        return self.request("POST", "/api/v1/classify", *classify_body(small_png(seed), self.model))


def record(probes: Probes, call: Callable[[int], float], seed: int) -> None:
    try:
        probes.ok_ms.append(call(seed))
    except (OSError, http.client.HTTPException, RuntimeError) as error:
        probes.failures.append(f"{type(error).__name__} {error}".strip())


@dataclass
class Phase:
    """Probes made while most idle connections were still open, and those made after the server shed them."""

    healthz: Probes = field(default_factory=Probes)
    classify: Probes = field(default_factory=Probes)


def run_probes(prober: Prober, count: int, idle: list[Idle], end: float) -> tuple[Phase, Phase]:
    """Up to `count` rounds of one /healthz and one classify probe, evenly spread until `end`.

    A round that would start after `end` (earlier probes waited for their timeout) is not run."""
    loaded, shed = Phase(), Phase()
    start = time.perf_counter()
    for index in range(count):
        time.sleep(max(0.0, start + index * (end - start) / count - time.perf_counter()))
        if time.perf_counter() >= end:
            break
        still_open = sum(1 for connection in idle if connection.closed_after_s is None)
        phase = loaded if still_open >= 0.9 * len(idle) else shed
        record(phase.healthz, prober.healthz, index)
        record(phase.classify, prober.classify, index)
    return loaded, shed


def figures(probes: Probes) -> str:
    answered = f"{len(probes.ok_ms)} answered"
    if probes.ok_ms:
        answered += f": p50 {percentile(probes.ok_ms, 50):.0f} ms, max {max(probes.ok_ms):.0f} ms"
    if probes.failures:
        answered += f"; {len(probes.failures)} failed ({'; '.join(sorted(set(probes.failures)))})"
    return answered


def met(probes: Probes, limit_ms: float) -> str:
    return verdict(bool(probes.ok_ms) and not probes.failures and max(probes.ok_ms) < limit_ms)


def closure_row(flavour: str, idle: list[Idle], hold_s: float) -> Row:
    mine = [c for c in idle if c.flavour == flavour]
    closed = [c.closed_after_s for c in mine if c.closed_after_s is not None]
    answered = sum(1 for c in mine if c.answered)
    when = f" after p50 {percentile(closed, 50):.1f} s, max {max(closed):.1f} s" if closed else ""
    said = f"; {answered} got a response first" if answered else ""
    return Row(f"{flavour}: closed by the server", f"{len(closed)} of {len(mine)} within {hold_s:.0f} s{when}{said}")


def measure(*, url: str, connections: int, hold_s: float, probes: int, probe_timeout_s: float, model: str) -> Section:
    """The idle connections held against the server at `url` while probes time /healthz and a classify."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    prober = Prober(host, port, probe_timeout_s, model)
    section = Section(f"Slow clients: {connections} idle connections to {url} held {hold_s:.0f} s")
    healthz_before, classify_before = Probes(), Probes()
    for seed in range(3):  # the first classify may still pay for a warm-up
        record(healthz_before, prober.healthz, seed)
        record(classify_before, prober.classify, 1000 + seed)
    section.rows.append(Row("GET /healthz before opening them", figures(healthz_before)))
    section.rows.append(Row(f"POST /api/v1/classify ({model}) before", figures(classify_before)))

    started = time.perf_counter()
    idle = open_idle(host, port, connections)
    section.rows.append(Row("connections opened", f"{len(idle)} in {time.perf_counter() - started:.1f} s"))
    end = time.perf_counter() + hold_s
    watcher = threading.Thread(target=watch_closures, args=(idle, end), daemon=True)
    watcher.start()
    loaded, shed = run_probes(prober, probes, idle, end)
    watcher.join()
    for connection in idle:
        connection.sock.close()

    for when, phase in (("with >= 90% of them open", loaded), ("after the server closed most", shed)):
        if phase.healthz.ok_ms or phase.healthz.failures:
            section.rows.append(
                Row(f"GET /healthz {when}", figures(phase.healthz), target="< 1 s", met=met(phase.healthz, 1000))
            )
            section.rows.append(
                Row(
                    f"POST /api/v1/classify ({model}) {when}",
                    figures(phase.classify),
                    target="< 2 s",
                    met=met(phase.classify, 2000),
                )
            )
    section.rows += [closure_row(flavour, idle, hold_s) for flavour in FLAVOURS]
    return section


def run(bench: object) -> Section:
    """A step of `make bench`: `make run` itself (the front and gunicorn, as a user starts it), on a port,
    front directory and SQLite database of its own, random weights, EfficientNet-Lite0 only."""
    quick = getattr(getattr(bench, "options", None), "quick", False)
    with tempfile.TemporaryDirectory(prefix="imgrec-bench-front-") as directory:
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{directory}/db.sqlite3",
            "IMGREC_BROKER_DIR": f"{directory}/broker",
            "IMGREC_WEIGHTS": "random",
            "IMGREC_MODELS": "efficientnet_lite0",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
        log = Path(directory) / "make-run.log"
        with log.open("wb") as output:
            make = subprocess.Popen(
                ["make", "run", f"PORT={port}", f"FRONT={directory}/front"],
                cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
            try:
                wait_ready(port, make, log)
                section = measure(
                    url=f"http://127.0.0.1:{port}",
                    connections=1000,
                    hold_s=20.0 if quick else 30.0,
                    probes=10,
                    probe_timeout_s=10.0,
                    model="efficientnet_lite0",
                )
            finally:
                os.killpg(make.pid, signal.SIGTERM)
                try:
                    make.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    os.killpg(make.pid, signal.SIGKILL)
                    make.wait()
    section.title = "Slow clients: 1000 idle connections held against `make run` (nginx in front of gunicorn)"
    section.notes.append("`make run` started by the benchmark; figures from bench/slow_clients.py")
    return section


def wait_ready(port: int, process: subprocess.Popen[bytes], log: Path, limit_s: float = 900.0) -> None:
    """Until /readyz answers 200 through the front (`make run` may first install and migrate)."""
    began = time.monotonic()
    while time.monotonic() - began < limit_s:
        if process.poll() is not None:
            raise RuntimeError(f"make run exited with {process.returncode}; see {log}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(1.0)
    raise RuntimeError(f"make run was not ready in {limit_s:.0f} s; see {log}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--hold", type=float, default=30.0, help="seconds to keep the idle connections open")
    parser.add_argument("--probes", type=int, default=10, help="/healthz and classify probes each, over the hold")
    parser.add_argument("--probe-timeout", type=float, default=10.0)
    parser.add_argument("--model", default="efficientnet_lite0")
    args = parser.parse_args()
    url = urlsplit(args.url)
    if not ipaddress.ip_address(socket.gethostbyname(url.hostname or "127.0.0.1")).is_loopback:
        parser.error("only a loopback server may be loaded with idle connections")
    if not 0 < args.connections <= MAX_CONNECTIONS or not 0 < args.hold <= MAX_HOLD_S:
        parser.error(f"--connections 1..{MAX_CONNECTIONS} and --hold up to {MAX_HOLD_S:.0f} s")
    measure(
        url=args.url,
        connections=args.connections,
        hold_s=args.hold,
        probes=args.probes,
        probe_timeout_s=args.probe_timeout,
        model=args.model,
    ).print()


if __name__ == "__main__":
    main()
