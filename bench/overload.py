"""(3) Overload: a burst at 4x capacity. Refusals must be fast; nothing may time out or fail otherwise."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bench.common import Client, Row, Section, percentile, verdict
from bench.context import Bench

MODEL = "resnet50"
SENDERS = 256


def run(bench: Bench) -> Section:
    section = Section(f"Overload: open-loop burst at 4x capacity ({MODEL})")
    capacity = bench.measured["throughput_rps"]
    rate = 4 * capacity
    duration_s = float(bench.options.pick(10, 5))
    total = int(rate * duration_s)
    endpoint = bench.endpoint(MODEL)
    results: list[tuple[int, float]] = []
    lock = threading.Lock()

    def send() -> None:
        client = Client(bench.server.port, timeout_s=60)
        sent = time.perf_counter()
        try:
            status, _ = client.post(endpoint)
        except OSError:
            status = 0  # connection error or client timeout
        client.close()
        with lock:
            results.append((status, (time.perf_counter() - sent) * 1000.0))

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=SENDERS) as pool:
        for index in range(total):
            delay = began + index / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(send)
    refused = [ms for status, ms in results if status == 503]
    served = [ms for status, ms in results if status == 200]
    timeouts = sum(1 for status, _ in results if status in (0, 504))
    other_5xx = sum(1 for status, _ in results if status >= 500 and status not in (503, 504))
    fast_share = sum(1 for ms in refused if ms <= 100) / len(refused) if refused else float("nan")
    section.rows.append(Row("offered", f"{total} requests in {duration_s:.0f} s ({rate:.0f}/s = 4 x {capacity:.1f}/s)"))
    section.rows.append(Row("served (200) / refused (503)", f"{len(served)} / {len(refused)}"))
    section.rows.append(
        Row(
            "refusals answered within 100 ms",
            f"{fast_share:.1%} (p50 {percentile(refused, 50):.0f} ms, p95 {percentile(refused, 95):.0f} ms)",
            target=">= 95%",
            met=verdict(fast_share >= 0.95) if refused else "no refusals",
        )
    )
    section.rows.append(Row("timeouts (504 or no answer)", str(timeouts), target="0", met=verdict(timeouts == 0)))
    section.rows.append(Row("other 5xx", str(other_5xx), target="0", met=verdict(other_5xx == 0)))
    section.rows.append(
        Row("served latency p50 / p95", f"{percentile(served, 50):.0f} / {percentile(served, 95):.0f} ms")
    )
    return section
