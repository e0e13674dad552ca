"""(1) Latency: bare compiled forward at batch 1 vs p50 of sequential requests to the server."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from functools import partial

from bench.common import Client, Endpoint, Row, Section, median, time_forward, verdict
from bench.context import Bench

# Issue 15's targets for the API; the page's from the first round.
TARGETS = {
    ("api", "resnet50"): 1.15,
    ("api", "vgg19"): 1.05,
    ("api", "efficientnet_lite0"): 1.6,
    ("page", "resnet50"): 1.5,
}
PAGE_MODELS = ("resnet50", "vgg19")
STAGE = re.compile(r'<th scope="row">(\w+)</th><td class="text-end">([\d.]+) ms</td>')


def sequential_ms(
    bench: Bench, endpoint: Endpoint, count: int, *, interleave: Callable[[], None] | None = None
) -> tuple[list[float], list[dict[str, float]]]:
    """Milliseconds per request, one after another; `interleave` runs between requests (untimed here)."""
    client = Client(bench.server.port)
    for _ in range(3):
        client.post(endpoint)
    times, stages = [], []
    for _ in range(count):
        if interleave is not None:
            interleave()
        start = time.perf_counter()
        status, body = client.post(endpoint)
        times.append((time.perf_counter() - start) * 1000.0)
        if status != 200:
            raise RuntimeError(f"{endpoint.name} answered {status}: {body[:300]!r}")
        stages.append(server_timings(body))
    client.close()
    return times, stages


def measure_into(times: list[float], compiled: object) -> None:
    times.extend(time_forward(compiled, 1, 1))


def server_timings(body: bytes) -> dict[str, float]:
    if body.lstrip().startswith(b"{"):
        return {k: float(v) for k, v in json.loads(body).get("timings_ms", {}).items()}
    return {stage: float(ms) for stage, ms in STAGE.findall(body.decode())}


def run(bench: Bench) -> Section:
    section = Section("Latency: sequential requests vs bare compiled forward (batch 1)")
    count = int(bench.options.pick(50, 15))
    for model in ("resnet50", "vgg19", "efficientnet_lite0"):
        compiled = bench.bare(model)
        kinds = [("page", bench.page(model))] if model in PAGE_MODELS else []
        if bench.api_available:
            kinds.insert(0, ("api", Endpoint.api(bench.image, model)))
        for kind, endpoint in kinds:
            # The baseline runs between the requests, so both see the same (shared, noisy) machine.
            bare_times: list[float] = []
            times, stages = sequential_ms(
                bench, endpoint, count, interleave=partial(measure_into, bare_times, compiled)
            )
            bare = median(bare_times)
            section.rows.append(Row(f"{model} bare forward, batch 1, p50 of {count}", f"{bare:.1f} ms"))
            p50 = median(times)
            bench.measured[f"{kind}_p50_{model}"] = p50
            ratio = p50 / bare
            target = TARGETS.get((kind, model))
            section.rows.append(
                Row(
                    f"{endpoint.name} p50 of {count}",
                    f"{p50:.1f} ms",
                    f"{bare:.1f} ms",
                    f"{ratio:.2f}",
                    f"<= {target}" if target else "",
                    verdict(ratio <= target) if target else "",
                )
            )
            stage_p50 = {stage: median([s[stage] for s in stages if stage in s]) for stage in stages[0]}
            section.notes.append(
                f"{endpoint.name} server-side p50 per stage: "
                + ", ".join(f"{stage} {ms:.1f} ms" for stage, ms in stage_p50.items())
            )
            if "chart" in stage_p50:
                share = stage_p50["chart"] / p50
                section.rows.append(
                    Row(
                        f"chart share of a {model} page request",
                        f"{share:.1%}",
                        target="< 15%",
                        met=verdict(share < 0.15),
                    )
                )
    if not bench.api_available:
        section.notes.append(
            "POST /api/v1/classify answered 404 on this branch: API rows skipped; re-run `make bench` once it exists."
        )
    return section
