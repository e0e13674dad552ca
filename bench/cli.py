"""(7) The CLI on a folder of 1,000 distinct photos vs the bare batch-16 compiled forward, per model.

`manage.py classify FOLDER --model M --json` runs in a subprocess as a user would run it (no secret
key, IMGREC_WEIGHTS=random). The folder holds 1,000 distinct JPEGs of about 500x375, made from the
photos that ship in scikit-image and matplotlib with random crops, flips and noise, in ten subfolders.
Images/s is taken from the first JSON line to the last (steady state: the startup, TensorFlow's import
and the model's load and warm-up, is reported beside it); the bare forward runs in this process right
before and right after, never at the same time. The CLI's resident memory is read at the 200th image
and at the last: it must not grow with the folder.

`.venv/bin/python -m bench.cli [--quick]` runs it alone; `make bench` includes it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import (
    PYTHON,
    ROOT,
    Options,
    Row,
    Section,
    bare_models,
    camera_roll_jpeg,
    median,
    time_forward,
    verdict,
)

MODELS = ("resnet50", "efficientnet_lite0")
FOLDERS = 10


def make_photo_folder(folder: Path, count: int) -> None:
    """`count` distinct camera-roll JPEGs (bench.common.camera_roll_jpeg) in FOLDERS subfolders."""
    for index in range(count):
        target = folder / f"roll{index % FOLDERS:02d}" / f"IMG_{index:04d}.jpg"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(camera_roll_jpeg(index))


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def run_cli(folder: Path, model: str) -> dict[str, float]:
    """Run the CLI on the folder; times from start, first and last result line; RSS at the 200th and last."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "IMGREC_WEIGHTS": "random",
        "PYTHONUNBUFFERED": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    args = [PYTHON, "manage.py", "classify", str(folder), "--model", model, "--top", "5", "--json"]
    started = time.perf_counter()
    lines = failed = 0
    first = last = started
    rss_200 = rss_last = 0
    with subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as process:
        assert process.stdout is not None
        for line in process.stdout:
            last = time.perf_counter()
            lines += 1
            failed += b'"error"' in line[:300] and b'"predictions"' not in line
            if lines == 1:
                first = last
            if lines == 200:
                rss_200 = rss_kb(process.pid)
            rss_last = rss_kb(process.pid) if lines % 50 == 0 else rss_last
        process.wait()
    return {
        "images": lines,
        "failed": failed,
        "startup_s": first - started,
        "steady_ips": (lines - 1) / (last - first) if last > first else 0.0,
        "end_to_end_ips": lines / (last - started),
        "rss_200_mb": rss_200 / 1024,
        "rss_last_mb": rss_last / 1024,
        "returncode": process.returncode,
    }


def measure(options: Options) -> Section:
    count = int(options.pick(1000, 300))
    section = Section(f"CLI: classify a folder of {count} distinct JPEG photos (~500x375) vs bare batch-16 forward")
    with tempfile.TemporaryDirectory(prefix="imgrec-bench-cli-") as tmp:
        folder = Path(tmp) / "photos"
        began = time.perf_counter()
        make_photo_folder(folder, count)
        section.notes.append(f"made the {count} photos in {time.perf_counter() - began:.0f} s (not timed below)")
        for model in MODELS:
            compiled = bare_models([model])[model]
            repeats = int(options.pick(6, 3))
            bare_times = time_forward(compiled, 16, repeats)
            figures = run_cli(folder, model)
            bare_times += time_forward(compiled, 16, repeats)
            del compiled
            bare_ips = 16 * 1000.0 / median(bare_times)
            ratio = figures["steady_ips"] / bare_ips
            section.rows.append(
                Row(
                    f"{model}: classify --json, {figures['images']:.0f} images ({figures['failed']:.0f} failed)",
                    f"{figures['steady_ips']:.1f} images/s",
                    f"{bare_ips:.1f} images/s",
                    f"{ratio:.2f}",
                    ">= 0.85",
                    verdict(ratio >= 0.85 and figures["images"] == count and figures["returncode"] == 0),
                )
            )
            section.rows.append(
                Row(
                    f"{model}: with the startup ({figures['startup_s']:.1f} s to the first result)",
                    f"{figures['end_to_end_ips']:.1f} images/s",
                )
            )
            growth = figures["rss_last_mb"] / figures["rss_200_mb"] - 1 if figures["rss_200_mb"] else 0.0
            section.rows.append(
                Row(
                    f"{model}: CLI resident memory at image 200 -> last",
                    f"{figures['rss_200_mb']:.0f} -> {figures['rss_last_mb']:.0f} MB ({growth:+.1%})",
                    target="< +10%",
                    met=verdict(growth < 0.10),
                )
            )
    section.notes.append(
        "images/s from the first JSON line to the last; the bare forward (same graph, random weights) runs in the "
        "benchmark process right before and after each CLI run, never beside it"
    )
    return section


def run(bench: object) -> Section:
    """A `make bench` step (bench/run_all.py)."""
    return measure(bench.options)  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="300 photos instead of 1,000")
    measure(Options(quick=parser.parse_args().quick)).print()


if __name__ == "__main__":
    main()
