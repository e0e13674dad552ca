"""(4) Memory: server RSS with the models loaded vs weight bytes + an empty TensorFlow process; drift."""

from __future__ import annotations

import subprocess

from bench.common import PYTHON, ROOT, Row, Section, rss_mb, server_env, verdict
from bench.context import Bench
from bench.throughput import closed_loop

MODELS = ("resnet50", "vgg19", "efficientnet_lite0")
EMPTY_TF = (
    "import tensorflow as tf\n"
    "tf.reduce_sum(tf.ones((224, 224)))\n"
    "print([line.split()[1] for line in open('/proc/self/status') if line.startswith('VmRSS:')][0])\n"
)


def empty_tensorflow_rss_mb() -> float:
    output = subprocess.run(
        [PYTHON, "-c", EMPTY_TF], cwd=ROOT, env=server_env(), capture_output=True, text=True, check=True
    ).stdout
    return int(output.strip().splitlines()[-1]) / 1024.0


def weight_mb() -> float:
    from recognizer.inference.catalog import SPECS_BY_NAME

    return sum(SPECS_BY_NAME[name].params * 4 for name in MODELS) / 1024 / 1024


def run(bench: Bench) -> Section:
    section = Section("Memory: one process, models shared by all threads")
    loaded = bench.measured["rss_loaded_mb"]
    empty, weights = empty_tensorflow_rss_mb(), weight_mb()
    ratio = loaded / (empty + weights)
    section.rows.append(
        Row(
            "server RSS with ResNet50 + VGG19 + EfficientNet-Lite0 loaded and warm (one request each)",
            f"{loaded:.0f} MB",
            f"{empty:.0f} MB empty TF process + {weights:.0f} MB float32 weights = {empty + weights:.0f} MB",
            f"{ratio:.2f}",
            "<= 1.3",
            verdict(ratio <= 1.3),
        )
    )
    requests = int(bench.options.pick(2000, 300))
    before = rss_mb(bench.server.worker_pid)
    rps = bench.measured.get("throughput_rps", 20.0)
    served = 0
    while served < requests:
        ok, _, _ = closed_loop(bench, clients=16, duration_s=max(2.0, (requests - served) / max(rps, 1.0)))
        served += ok
    after = rss_mb(bench.server.worker_pid)
    drift = (after - before) / before
    section.rows.append(
        Row(
            f"RSS drift over {served} more requests (warm server)",
            f"{before:.0f} -> {after:.0f} MB ({drift:+.1%})",
            target="< 5%",
            met=verdict(drift < 0.05),
        )
    )
    return section
