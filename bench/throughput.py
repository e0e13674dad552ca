"""(2) Throughput: 16 concurrent clients for 30 s vs the bare batch-16 forward's images/s."""

from __future__ import annotations

import threading
import time

from bench.common import Client, Row, Section, median, percentile, time_forward, verdict
from bench.context import Bench

CLIENTS = 16
MODEL = "resnet50"


def closed_loop(bench: Bench, *, clients: int, duration_s: float) -> tuple[int, dict[int, int], list[float]]:
    """`clients` threads each sending one request after another until time is up."""
    endpoint = bench.endpoint(MODEL)
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client_loop() -> None:
        client = Client(bench.server.port)
        start.wait()
        while time.perf_counter() < stop_at[0]:
            sent = time.perf_counter()
            try:
                status, _ = client.post(endpoint)
            except OSError:
                status = 0
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                latencies.append((time.perf_counter() - sent) * 1000.0)
        client.close()

    threads = [threading.Thread(target=client_loop, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + duration_s
    start.wait()
    for thread in threads:
        thread.join(timeout=duration_s + 120)
    return statuses.get(200, 0), statuses, latencies


def run(bench: Bench) -> Section:
    section = Section(f"Throughput: {CLIENTS} concurrent clients vs bare batch-16 forward ({MODEL})")
    duration_s = float(bench.options.pick(30, 10))
    closed_loop(bench, clients=CLIENTS, duration_s=2.0)  # every bucket and thread warmed
    compiled = bench.bare(MODEL)
    repeats = int(bench.options.pick(5, 3))
    bare_times = time_forward(compiled, 16, repeats)
    ok, statuses, latencies = closed_loop(bench, clients=CLIENTS, duration_s=duration_s)
    bare_times += time_forward(compiled, 16, repeats)  # before and after the load: the same machine
    rps = ok / duration_s
    bench.measured["throughput_rps"] = rps
    bare_ms = median(bare_times)
    bare_ips = 16 * 1000.0 / bare_ms
    ratio = rps / bare_ips
    section.rows.append(
        Row("bare forward batch 16, before and after", f"{bare_ips:.1f} images/s ({bare_ms:.0f} ms per batch)")
    )
    section.rows.append(
        Row(
            f"{bench.endpoint(MODEL).name}, {CLIENTS} clients, {duration_s:.0f} s",
            f"{rps:.1f} requests/s",
            f"{bare_ips:.1f} images/s",
            f"{ratio:.2f}",
            ">= 0.9",
            verdict(ratio >= 0.9),
        )
    )
    section.rows.append(
        Row(
            "latency under that load p50 / p95", f"{percentile(latencies, 50):.0f} / {percentile(latencies, 95):.0f} ms"
        )
    )
    section.notes.append(f"status counts: {dict(sorted(statuses.items()))}")
    if not bench.api_available:
        section.notes.append("measured through the HTML page (chart + thumbnail included): the API did not exist yet")
    return section
