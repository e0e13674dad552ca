"""(9) Batch jobs: one Celery worker's images/s on a job of 1,000 distinct photos vs the bare batch-16
forward, and the worker's RSS over a long job.

    .venv/bin/python -m bench.jobs [--quick] [--images 1000] [--rss-images 5000]

The worker is `make worker`'s command on the deployed topology: Redis as the broker (BENCH_BROKER_URL, by
default database 12 of the local Redis, emptied first) and PostgreSQL for the jobs (BENCH_DATABASE_URL, by
default out_imgrec_bench_jobs on the local server, created when missing), as `make services` provides.
The bare forward is the same compiled model timed in this process while the worker is idle, right before
and right after each job; the job runs JOB_ROUNDS times and the ratio is the mean of each job's own.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.common import PYTHON, ROOT, Row, Section, camera_roll_jpeg, median, rss_mb, time_forward, verdict

TARGET_RATIO = 0.85
TARGET_RSS_GROWTH = 0.10
CHUNK = 32
# The same job run this many times, the bare forward timed between them: the machine's neighbours move the
# bare figure by up to a quarter within minutes, so each job is set against the forward timed around it.
JOB_ROUNDS = 3
BARE_REPEATS = 10  # batch-16 forwards timed before and after each job


DATABASE_URL = "postgres://imgrec:imgrec@127.0.0.1:5432/out_imgrec_bench_jobs"
BROKER_URL = "redis://127.0.0.1:6379/12"


def _environment(models: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "imgrec_site.settings",
        "DJANGO_SECRET_KEY": "bench-only",
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", DATABASE_URL),
        "IMGREC_BROKER_URL": os.environ.get("BENCH_BROKER_URL", BROKER_URL),
        "IMGREC_WEIGHTS": "random",
        "IMGREC_MODELS": models,
        "IMGREC_JOB_CHUNK": str(CHUNK),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": str(ROOT),
    }


def _start_empty(broker_url: str) -> None:
    """No chunk of an earlier, interrupted run left in the broker to compete, no earlier job in the database."""
    from recognizer.jobs.models import Job

    if broker_url.startswith("redis"):
        import redis

        redis.Redis.from_url(broker_url).flushdb()
    Job.objects.all().delete()


def photos(count: int, *, offset: int = 0) -> list[bytes]:
    """Distinct 500x375 JPEGs as from a camera roll (bench.common.camera_roll_jpeg): no two are the same bytes."""
    return [camera_roll_jpeg(offset + index) for index in range(count)]


def run_job(model: str, images: list[bytes], *, worker_pid: int | None = None) -> tuple[float, list[float]]:
    """Submit a job, wait for it; its images/s (first started to last written) and RSS samples of the worker."""
    from recognizer.jobs.models import Job
    from recognizer.jobs.services import Photo, create_job, job_progress

    job = create_job(
        model_name=model,
        top_k=5,
        session_key="",
        photos=(Photo(name=f"{index}.jpg", data=data) for index, data in enumerate(images)),
    )
    samples: list[float] = []
    while True:
        job.refresh_from_db()
        if worker_pid is not None:
            samples.append(rss_mb(worker_pid))
        if job.state in Job.FINISHED:
            break
        time.sleep(0.5)
    progress = job_progress(job)
    assert job.state == Job.DONE and progress.done == len(images), (job.state, progress)
    assert job.started_at is not None and job.finished_at is not None
    return len(images) / (job.finished_at - job.started_at).total_seconds(), samples


@contextmanager
def bare_forward(model: str) -> Iterator[Callable[[], list[float]]]:
    """The worker's own compiled forward, built once the same way in this process (random weights); the
    function it gives times BARE_REPEATS calls at batch 16, as often as asked."""
    from django.conf import settings

    from recognizer.inference.catalog import SPECS_BY_NAME
    from recognizer.inference.registry import ModelRegistry

    registry = ModelRegistry([SPECS_BY_NAME[model]], weights_mode="random", cache_dir=settings.IMGREC_CACHE_DIR)
    try:
        compiled = registry.get(model).compiled
        yield lambda: time_forward(compiled, 16, BARE_REPEATS)
    finally:
        registry.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="300 images per job and 1,000 for the RSS")
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--rss-images", type=int, default=5000)
    args = parser.parse_args()
    for section in run(images=300 if args.quick else args.images, rss_images=1000 if args.quick else args.rss_images):
        section.print()


def run(*, images: int, rss_images: int) -> Iterator[Section]:
    """Each section as soon as it is measured."""
    models = ("resnet50", "efficientnet_lite0")
    workdir = Path(tempfile.mkdtemp(prefix="imgrec-bench-jobs-"))
    env = _environment(",".join(models))
    os.environ.update({key: env[key] for key in env if key.startswith(("DJANGO", "DATABASE", "IMGREC", "TF_"))})
    import django

    django.setup()
    subprocess.run([PYTHON, "deploy/ensure_database.py"], cwd=ROOT, env=env, check=True)
    subprocess.run([PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
    _start_empty(env["IMGREC_BROKER_URL"])
    worker = subprocess.Popen(
        [PYTHON, "-m", "celery", "-A", "recognizer.jobs.celery", "worker", "--without-gossip", "--without-mingle",
         "--without-heartbeat", "--loglevel=WARNING"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(workdir / "worker.log", "wb"),
    )  # fmt: skip
    try:
        job_photos = photos(images)
        section = Section(f"Batch job of {images:,} distinct 500x375 JPEGs, one worker vs bare batch-16 forward")
        for model in models:
            run_job(model, photos(CHUNK, offset=10**6))  # the worker loads and warms the model
            rounds: list[tuple[float, float]] = []  # (job images/s, bare images/s around it)
            with bare_forward(model) as time_bare:
                bare_ms = time_bare()
                for _ in range(JOB_ROUNDS):
                    job_ips, _ = run_job(model, job_photos)
                    after_ms = time_bare()
                    rounds.append((job_ips, 16 * 1000.0 / median(bare_ms + after_ms)))
                    bare_ms = after_ms
            ratio = sum(job / bare for job, bare in rounds) / len(rounds)
            section.rows.append(
                Row(
                    f"{model}: job images/s (mean of {len(rounds)} jobs)",
                    f"{sum(job for job, _ in rounds) / len(rounds):.1f}",
                    f"{sum(bare for _, bare in rounds) / len(rounds):.1f}",
                    f"{ratio:.2f}",
                    f">= {TARGET_RATIO}",
                    verdict(ratio >= TARGET_RATIO),
                )
            )
            section.notes.append(
                f"{model}, each job / the bare forward right before and after it: "
                + ", ".join(f"{job:.1f} / {bare:.1f} = {job / bare:.2f}" for job, bare in rounds)
            )
        section.notes.append(
            f"chunks of {CHUNK}, two at once on the worker's two task threads (`make worker`), its engine at "
            "batch 16 (EfficientNet-Lite0 two batches at once, `CompiledModel.concurrency`); the job's rate is from "
            "its first chunk started "
            "to its last result written (decode, forward, thumbnail and database writes included)"
        )
        yield section
        rss = Section(f"Worker RSS over a job of {rss_images:,} images (efficientnet_lite0)")
        _, samples = run_job("efficientnet_lite0", photos(rss_images, offset=2 * 10**6), worker_pid=worker.pid)
        start = samples[min(len(samples) - 1, max(1, len(samples) // 10))]  # after the first tenth: warm
        growth = max(samples) / start - 1
        rss.rows.append(
            Row(
                "RSS growth after the first tenth",
                f"{growth * 100:.1f}%",
                f"{start:.0f} MB",
                f"max {max(samples):.0f} MB",
                f"< {TARGET_RSS_GROWTH:.0%}",
                verdict(growth < TARGET_RSS_GROWTH),
            )
        )
        yield rss
    finally:
        worker.terminate()
        worker.wait(timeout=60)


if __name__ == "__main__":
    main()
