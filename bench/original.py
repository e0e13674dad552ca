"""(6) The original way: `model.predict` per request and a pyplot chart, vs imgrec's page."""

from __future__ import annotations

from bench.common import Endpoint, Row, Section, Server, median
from bench.context import Bench
from bench.latency import sequential_ms


def run(bench: Bench) -> Section:
    section = Section("The original way (model.predict + pyplot) vs imgrec's page, ResNet50, sequential")
    count = int(bench.options.pick(40, 12))
    ours = bench.measured.get("page_p50_resnet50")
    original = Endpoint("POST /original/", "/original/", bench.image, {})
    with Server(settings_module="bench.original_site", IMGREC_PRELOAD="false", IMGREC_MODELS="resnet50") as server:
        server.migrate()
        server.start()
        server.wait_until_serving([original])
        times, _ = sequential_ms(Bench(server=server, options=bench.options, image=bench.image), original, count)
    theirs = median(times)
    section.rows.append(Row(f"original view p50 of {count}", f"{theirs:.1f} ms"))
    if ours:
        section.rows.append(
            Row(
                "imgrec POST / p50 (latency section)",
                f"{ours:.1f} ms",
                f"{theirs:.1f} ms",
                f"{theirs / ours:.2f}x faster",
            )
        )
    section.notes.append("the original view runs in the same gunicorn setup, on its own server after imgrec's stops")
    return section
