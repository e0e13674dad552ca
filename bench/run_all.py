"""`make bench`: every benchmark against one gunicorn server, then bench/results.md.

`--quick` runs fewer requests and shorter loads (about 3 minutes instead of about 7 on 2 cores), plus
bench/cli.py (the CLI on a folder of photos: about 4 more minutes, 2 with `--quick`).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

from bench import (
    cli,
    cluster,
    coldstart,
    explain,
    jobs,
    latency,
    memory,
    memory_burst,
    original,
    overload,
    precision,
    slow_clients,
    throughput,
)
from bench.common import ROOT, Options, Section, Server, rss_mb
from bench.context import Bench

RESULTS = ROOT / "bench" / "results.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer requests, shorter loads")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    options = Options(quick=args.quick)
    began = time.perf_counter()
    load_before = os.getloadavg()
    sections: list[Section] = []

    def record(step: Callable[[Bench], Section], bench: Bench) -> None:
        section = step(bench)
        section.print()
        sections.append(section)

    with Server() as server:
        server.migrate()
        server.start()
        server.wait_for_http()
        bench = Bench(server=server, options=options)
        server.wait_until_serving([bench.page(name) for name in ("resnet50", "vgg19", "efficientnet_lite0")])
        bench.measured["rss_loaded_mb"] = rss_mb(server.worker_pid)
        bench.api_available = server.path_exists("/api/v1/classify")
        for step in (latency.run, throughput.run, overload.run, memory.run, memory_burst.run):
            record(step, bench)
    # Each of these starts what it measures; slow clients run `make run` behind nginx, then `make cluster`'s script.
    for step in (coldstart.run, original.run, explain.run, cli.run, precision.run, slow_clients.run, cluster.run):
        record(step, bench)
    # Last: it configures Django in this process, for a database and broker of its own.
    for section in jobs.run(images=int(options.pick(1000, 300)), rss_images=int(options.pick(5000, 1000))):
        section.print()
        sections.append(section)

    minutes = (time.perf_counter() - began) / 60
    args.output.write_text(report(sections, options, minutes, load_before))
    print(f"\nwrote {args.output} ({minutes:.1f} min)")


def report(sections: list[Section], options: Options, minutes: float, load_before: tuple[float, ...]) -> str:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmark results",
        "",
        f"`make bench{'-quick' if options.quick else ''}` on {now}: {os.cpu_count()} CPU cores, "
        f"{platform.python_implementation()} {platform.python_version()}, load average "
        f"{load_before[0]:.1f} at the start, {minutes:.1f} min in all. IMGREC_WEIGHTS=random (same arithmetic "
        "as the real weights). Server: gunicorn as `make run` (1 process, gthread, 160 threads) on loopback; "
        "the load comes from a separate process (threads + http.client). Baselines run in the benchmark process in "
        "the same run: between the sequential requests (latency), right before and after the load (throughput).",
        "",
    ]
    for number, section in enumerate(sections, start=1):
        lines += [
            f"## {number}. {section.title}",
            "",
            "| metric | value | baseline | ratio | target | |",
            "|---|---|---|---|---|---|",
        ]
        for row in section.rows:
            lines.append(f"| {row.metric} | {row.value} | {row.baseline} | {row.ratio} | {row.target} | {row.met} |")
        lines.append("")
        lines += [f"- {note}" for note in section.notes]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
