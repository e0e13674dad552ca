"""`make cluster` figures: one app node vs two behind the front, and a kill -9 of a node under load.

    .venv/bin/python -m bench.cluster [--model resnet50] [--clients 8] [--seconds 20] [--port 18620]

Starts deploy/cluster.sh (the front and NODES gunicorn nodes, as `make cluster`) with NODES=1, then
NODES=2, against the local PostgreSQL (database out_imgrec_bench, created when missing) and Redis
(DB 11), random weights, the rate limit off. For each: `--clients` closed-loop clients POST distinct
photos (never answered from the result cache) to /api/v1/classify through the front for `--seconds`;
requests/s, p50 and p95, and each node's share. Then, with two nodes, the same load again and node2's
gunicorn master and worker killed with SIGKILL a third of the way in: requests that failed (and how),
and which node answered the ones sent after it died.

A benchmark, not a test: it prints figures. On a 2-core machine both nodes share the same two cores,
so two nodes cannot be faster than one here; the figures show that the topology costs little and that
a node's death costs only its requests in flight.
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import ROOT, Row, Section, free_port, percentile, photo_jpeg, unique_upload

DATABASE_URL = "postgres://imgrec:imgrec@127.0.0.1:5432/out_imgrec_bench"
CACHE_URL = "redis://127.0.0.1:6379/11"
START_LIMIT_S = 600.0


@dataclass
class Outcome:
    started: float
    ms: float
    status: int  # 0: no answer at all
    node: str


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: Path) -> None:
        super().__init__("127.0.0.1", timeout=10)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(str(self.socket_path))


def nginx_binary() -> str:
    return os.environ.get("NGINX_BIN") or next(
        (path for path in ("/usr/sbin/nginx", "/usr/bin/nginx") if Path(path).exists()), "nginx"
    )


class Cluster:
    def __init__(self, *, nodes: int, port: int, model: str, directory: Path) -> None:
        self.nodes, self.port, self.directory = nodes, port, directory
        env = {
            **os.environ,
            "DATABASE_URL": DATABASE_URL,
            "DJANGO_CACHE_URL": CACHE_URL,
            "DJANGO_SECRET_KEY": "bench-only",
            "DJANGO_CONN_MAX_AGE": "60",
            "IMGREC_MODELS": model,
            "IMGREC_WEIGHTS": "random",
            "IMGREC_PRELOAD": "true",
            "IMGREC_RATE_LIMIT": "",
            "IMGREC_CLIENT_IP_HEADER": "HTTP_X_FORWARDED_FOR",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "LISTEN": f"127.0.0.1:{port}",
            "NODES": str(nodes),
            "NGINX_BIN": nginx_binary(),
        }
        gunicorn = Path(sys.executable).with_name("gunicorn")
        command = [
            str(ROOT / "deploy" / "cluster.sh"), str(directory), sys.executable,
            str(gunicorn), "imgrec_site.wsgi:application", "--workers", "1", "--worker-class", "gthread",
            "--threads", "160", "--timeout", "120", "--keep-alive", "75",
        ]  # fmt: skip
        self.log = (directory / "cluster.log").open("wb")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_ready(self) -> float:
        began = time.monotonic()
        for node in range(1, self.nodes + 1):
            while True:
                try:
                    connection = UnixHTTPConnection(self.directory / f"node{node}.sock")
                    connection.request("GET", "/readyz", headers={"Host": "127.0.0.1"})
                    if connection.getresponse().status == 200:
                        break
                except OSError:
                    pass
                if self.process.poll() is not None or time.monotonic() - began > START_LIMIT_S:
                    raise RuntimeError(f"the cluster did not start; see {self.log.name}")
                time.sleep(0.5)
        return time.monotonic() - began

    def node_pids(self, node: int) -> list[int]:
        master = int((self.directory / f"node{node}.pid").read_text())
        workers = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
        return [master, *map(int, workers)]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()


def running(pid: int) -> bool:
    """Still holding its sockets. A killed multi-threaded process shows as a zombie as soon as its main
    thread has exited, but its files (the node's sockets) are closed only when its last thread has."""
    try:
        zombie = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
        return not zombie or len(os.listdir(f"/proc/{pid}/task")) > 1
    except OSError:
        return False


def classify(port: int, image: bytes) -> Outcome:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request(
            "POST", "/api/v1/classify", body=image, headers={"Content-Type": "image/jpeg", "Host": "127.0.0.1"}
        )
        response = connection.getresponse()
        response.read()
        status, node = response.status, response.getheader("X-Imgrec-Node") or "front"
    except OSError:
        status, node = 0, "none"
    finally:
        connection.close()
    return Outcome(started, (time.perf_counter() - started) * 1000, status, node)


def load(
    port: int, *, clients: int, seconds: float, photo: bytes, during: threading.Event | None = None
) -> list[Outcome]:
    """Closed-loop clients for `seconds`; `during` is set a third of the way in (the kill happens then)."""
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client() -> None:
        while time.perf_counter() < deadline:
            outcome = classify(port, unique_upload(photo))
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    if during is not None:
        time.sleep(seconds / 3)
        during.set()
    for thread in threads:
        thread.join()
    return outcomes


def throughput_rows(label: str, outcomes: list[Outcome], seconds: float) -> list[Row]:
    ok = [outcome.ms for outcome in outcomes if outcome.status == 200]
    shares = {}
    for outcome in outcomes:
        shares[outcome.node] = shares.get(outcome.node, 0) + 1
    return [
        Row(f"{label}: requests/s (200s)", f"{len(ok) / seconds:.1f}"),
        Row(f"{label}: latency p50 / p95", f"{percentile(ok, 50):.0f} / {percentile(ok, 95):.0f} ms"),
        Row(f"{label}: answered by", ", ".join(f"{node} {count}" for node, count in sorted(shares.items()))),
    ]


def measure(*, model: str, clients: int, seconds: float, port: int) -> Section:
    photo = photo_jpeg()
    section = Section(f"Cluster: the front and N app nodes on this machine ({os.cpu_count()} cores), {model}")
    for nodes in (1, 2):
        with tempfile.TemporaryDirectory(prefix="imgrec-cluster-") as directory:
            cluster = Cluster(nodes=nodes, port=port, model=model, directory=Path(directory))
            try:
                ready_s = cluster.wait_ready()
                load(port, clients=2, seconds=3, photo=photo)  # warm-up
                outcomes = load(port, clients=clients, seconds=seconds, photo=photo)
                section.rows += throughput_rows(f"{nodes} node(s), {clients} clients", outcomes, seconds)
                section.notes.append(f"{nodes} node(s) ready in {ready_s:.0f} s")
                if nodes == 2:
                    section.rows += failover_rows(cluster, clients=clients, seconds=seconds, port=port, photo=photo)
            finally:
                cluster.stop()
    return section


def run(bench: object) -> Section:
    """A step of `make bench`: one node, then two, then a node killed, on a free port."""
    quick = getattr(getattr(bench, "options", None), "quick", False)
    section = measure(model="resnet50", clients=8, seconds=10.0 if quick else 20.0, port=free_port())
    section.title = f"{section.title} (deploy/cluster.sh as `make cluster`)"
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--port", type=int, default=18620)
    args = parser.parse_args()
    measure(model=args.model, clients=args.clients, seconds=args.seconds, port=args.port).print()


def failover_rows(cluster: Cluster, *, clients: int, seconds: float, port: int, photo: bytes) -> list[Row]:
    kill_now = threading.Event()
    killed_at: list[float] = []

    def killer() -> None:
        kill_now.wait()
        doomed = cluster.node_pids(2)
        for pid in doomed:
            os.kill(pid, signal.SIGKILL)
        while any(running(pid) for pid in doomed):  # SIGKILL lands asynchronously
            time.sleep(0.005)
        killed_at.append(time.perf_counter())

    threading.Thread(target=killer).start()
    outcomes = load(port, clients=clients, seconds=seconds, photo=photo, during=kill_now)
    failed = [outcome for outcome in outcomes if outcome.status != 200]
    after = [outcome for outcome in outcomes if killed_at and outcome.started > killed_at[0]]
    statuses: dict[int, int] = {}
    for outcome in failed:
        statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
    return [
        Row(
            f"kill -9 of node2 under {clients} clients: requests failed",
            f"{len(failed)} of {len(outcomes)} (statuses {statuses or '-'}; at most {clients} were in flight)",
        ),
        Row(
            "requests sent after the kill: answered 200 by node1",
            f"{sum(o.status == 200 and o.node == 'node1' for o in after)} of {len(after)}",
        ),
    ]


if __name__ == "__main__":
    main()
