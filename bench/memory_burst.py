"""A burst of large decodes: is memory bounded, and does the server keep answering?

    .venv/bin/python -m bench.memory_burst [--port 18510] [--root DIR] [--uploads 32] [--megapixels 40]

Starts gunicorn as `make run` does (1 process, gthread, 160 threads, IMGREC_WEIGHTS=random, rate limit
off: one loopback client stands for 32 distinct ones) from `--root` (default: this checkout; point it
at an export of an older commit to measure "before"), waits until every model is warm, then sends
`--uploads` concurrent uploads of a `--megapixels` image (a solid-colour PNG of about 130 kB, each one
different by a pixel so no cache can answer), half to /api/v1/classify and half to /api/v1/compare.
Half a second into the burst it times one ordinary request (a 1024x768 JPEG to /api/v1/classify).

Prints the worker's RSS before, at its peak (sampled every 10 ms) and 5 s after the burst, the statuses
the burst got, and the ordinary request's time. Targets (issue 11): RSS growth < 1 GB, only 200 and 503,
RSS back within 15% of before, the ordinary request under 2 s. A benchmark: it prints, it asserts nothing.
"""

from __future__ import annotations

import argparse
import http.client
import io
import threading
import time
from collections import Counter
from pathlib import Path

from PIL import Image

from bench import common
from bench.common import Endpoint, Row, Section, multipart, photo_jpeg, rss_mb, verdict
from bench.context import Bench

SETTLE_S = 5.0


def large_png(megapixels: int, number: int) -> bytes:
    width = 8000
    height = megapixels * 1_000_000 // width
    image = Image.new("RGB", (width, height), (90, 140, 200))
    image.putpixel((number % width, 0), (number % 256, 0, 0))  # another file, another SHA-256
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def post(port: int, path: str, body: bytes, timeout_s: float = 120.0) -> tuple[int, float]:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        connection.request(
            "POST", path, body=body, headers={"Content-Type": f"multipart/form-data; boundary={common.BOUNDARY}"}
        )
        response = connection.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    except OSError:
        return 0, time.perf_counter() - started
    finally:
        connection.close()


def burst(port: int, pid: int, *, uploads: int, megapixels: int) -> Section:
    bodies = [
        ("/api/v1/compare" if i % 2 else "/api/v1/classify", multipart(large_png(megapixels, i), {}))
        for i in range(uploads)
    ]
    ordinary = Endpoint.api(photo_jpeg(), "resnet50").body()
    before = rss_mb(pid)
    statuses: Counter[int] = Counter()
    peak = [before]
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            peak[0] = max(peak[0], rss_mb(pid))
            time.sleep(0.01)

    def one(path: str, body: bytes) -> None:
        status, _ = post(port, path, body)
        statuses[status] += 1

    sampler = threading.Thread(target=sample)
    sampler.start()
    threads = [threading.Thread(target=one, args=item) for item in bodies]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, 0.5 - (time.perf_counter() - started)))
    ordinary_status, ordinary_s = post(port, "/api/v1/classify", ordinary)
    for thread in threads:
        thread.join()
    burst_s = time.perf_counter() - started
    time.sleep(SETTLE_S)
    sampling.set()
    sampler.join()
    after = rss_mb(pid)
    growth = peak[0] - before
    only_200_503 = set(statuses) <= {200, 503}
    section = Section(f"Memory burst: {uploads} concurrent {megapixels}-megapixel PNG uploads")
    section.rows += [
        Row("RSS before", f"{before:,.0f} MB"),
        Row("RSS peak growth", f"{growth:,.0f} MB", target="< 1,024 MB", met=verdict(growth < 1024)),
        Row(
            f"RSS {SETTLE_S:.0f} s after",
            f"{after:,.0f} MB ({(after - before) / before:+.0%})",
            # Back to where it was: at most 15% above it (the allocator giving pages back below it is fine).
            target="<= +15%",
            met=verdict(after <= 1.15 * before),
        ),
        Row(
            "statuses",
            ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items())),
            target="200 and 503 only",
            met=verdict(only_200_503),
        ),
        Row(
            "ordinary request during the burst",
            f"{ordinary_status} in {ordinary_s * 1000:,.0f} ms",
            target="200 in < 2 s",
            met=verdict(ordinary_status == 200 and ordinary_s < 2.0),
        ),
    ]
    section.notes.append(f"burst answered in {burst_s:.1f} s; upload size {len(bodies[0][1]) / 1024:,.0f} kB each")
    return section


def run(bench: Bench) -> Section:
    """The burst as a step of `make bench` (bench/run_all.py), against its server."""
    return burst(bench.server.port, bench.server.worker_pid, uploads=32, megapixels=40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=18510)
    parser.add_argument("--root", type=Path, default=common.ROOT)
    parser.add_argument("--uploads", type=int, default=32)
    parser.add_argument("--megapixels", type=int, default=40)
    args = parser.parse_args()
    common.ROOT = args.root  # Server starts gunicorn and manage.py from here
    with common.Server() as server:
        server.port = args.port
        server.env["PYTHONPATH"] = str(args.root)
        server.migrate()
        server.start()
        server.wait_for_http()
        server.wait_until_serving([Endpoint.api(photo_jpeg(), "resnet50")])
        time.sleep(2.0)
        burst(server.port, server.worker_pid, uploads=args.uploads, megapixels=args.megapixels).print()


if __name__ == "__main__":
    main()
