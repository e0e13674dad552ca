"""(5) Cold start: process start -> /readyz 200 (every enabled model loaded and warmed)."""

from __future__ import annotations

import time

from bench.common import Client, Options, Row, Section, Server, verdict
from bench.context import Bench


def seconds_to_ready(server: Server, bench: Bench, *, limit_s: float = 300.0) -> tuple[float, str]:
    client = Client(server.port, timeout_s=limit_s)
    deadline = time.perf_counter() + limit_s
    while time.perf_counter() < deadline:
        try:
            status, _ = client.request("GET", "/readyz")
        except OSError:
            time.sleep(0.05)
            continue
        if status == 200:
            return time.perf_counter() - server.started_at, "GET /readyz 200"
        if status == 404:
            probe = Bench(server=server, options=Options(), image=bench.image)
            return (
                server.wait_until_serving([probe.page("resnet50"), probe.page("vgg19")], limit_s=limit_s),
                "first 200 from POST / for each model (/readyz not on this branch yet)",
            )
        time.sleep(0.05)
    raise RuntimeError(f"not ready after {limit_s:.0f} s")


def run(bench: Bench) -> Section:
    section = Section("Cold start: gunicorn start -> ready (three models; Lite0 from its weight cache)")
    with Server() as server:
        server.migrate()
        server.start()
        seconds, how = seconds_to_ready(server, bench)
    section.rows.append(Row(f"start -> {how}", f"{seconds:.1f} s", target="<= 15 s", met=verdict(seconds <= 15)))
    section.notes.append(
        "random weights: no weight file is read; real weights from the Keras cache add the .h5 read time"
    )
    return section
