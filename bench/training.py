"""Train a two-class head (50 photos a class) on EfficientNet-Lite0, as a custom model would be trained.

    .venv/bin/python -m bench.training

Prints the time to compute the features (each photo and its 7 augmented copies through the frozen
backbone), the time to train the head, their sum against the 60 s target, and the validation
accuracy. The photos are crops of the brick and gravel textures in the scikit-image wheel.

Then the same photos through the service path a worker runs (recognizer/custom/): the model and its
photos stored (`create_custom_model`), and `run_training` from the rows to a ready model (features into
the database's cache, progress written per epoch, the head saved as `.keras` bytes), in this process on
the same loaded backbone, so only the service's own cost is added. Its database: BENCH_DATABASE_URL
(e.g. a PostgreSQL database), else SQLite in a temporary folder.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import PYTHON, ROOT
from recognizer.custom.training import LabelledPhoto, train_head
from recognizer.inference.catalog import SPECS_BY_NAME
from recognizer.inference.registry import ModelRegistry
from tests.custom.test_training import texture_crops

PER_CLASS = 50
TARGET_S = 60.0


def through_the_service(photos: list[LabelledPhoto], registry: ModelRegistry, workdir: Path) -> None:
    env = {
        "DJANGO_SETTINGS_MODULE": "imgrec_site.settings",
        "DJANGO_SECRET_KEY": "bench-only",
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{workdir / 'db.sqlite3'}"),
        "IMGREC_BROKER_URL": "filesystem://",
        "IMGREC_BROKER_DIR": str(workdir / "broker"),
        "IMGREC_MODELS": "efficientnet_lite0",
    }
    os.environ.update(env)
    subprocess.run([PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=os.environ, check=True)
    import django

    django.setup()
    from recognizer.custom.models import CustomModel
    from recognizer.custom.runner import run_training
    from recognizer.custom.services import create_custom_model

    started = time.perf_counter()
    model = create_custom_model(
        name=f"bench-{int(time.time())}", backbone="efficientnet_lite0", photos=photos, public=False, session_key="b"
    )
    stored_s = time.perf_counter() - started
    run_training(model_id=model.id, attempt=1, registry=registry)  # the training task's body
    total_s = time.perf_counter() - started
    model = CustomModel.objects.get(id=model.id)
    assert model.state == CustomModel.READY, model.reason
    seconds = model.facts["seconds"]
    verdict = "met" if total_s < TARGET_S else "missed"
    print(f"service path: stored {len(photos)} photos in {stored_s:.1f} s, ready after {total_s:.1f} s")
    print(f"  (features {seconds['features']:.1f} s, head {seconds['training']:.1f} s, {len(model.epochs)} epochs; "
          f"target < {TARGET_S:.0f} s: {verdict})")  # fmt: skip
    print(
        f"service path: validation accuracy {model.validation['accuracy']:.1%}, head {len(bytes(model.head)):,} bytes"
    )


def main() -> None:
    registry = ModelRegistry([SPECS_BY_NAME["efficientnet_lite0"]], weights_mode="imagenet")
    started = time.perf_counter()
    backbone = registry.get("efficientnet_lite0")
    print(f"EfficientNet-Lite0 loaded in {time.perf_counter() - started:.1f} s (not counted)")
    photos = [
        LabelledPhoto(label=label, name=f"{label}-{i}.jpg", data=data)
        for label, source in (("brick", "brick.png"), ("gravel", "gravel.png"))
        for i, data in enumerate(texture_crops(source, count=PER_CLASS, rows=(0.0, 1.0), seed=7))
    ]
    trained = train_head(photos, backbone=backbone)
    total = trained.seconds["features"] + trained.seconds["training"]
    print(f"features of {len(photos)} photos x 8 views: {trained.seconds['features']:.1f} s")
    print(f"head training, {len(trained.history)} epochs (early stopping): {trained.seconds['training']:.1f} s")
    print(f"total {total:.1f} s (target < {TARGET_S:.0f} s: {'met' if total < TARGET_S else 'missed'})")
    print(f"validation accuracy {trained.validation.accuracy:.1%} on {sum(trained.class_balance.values()) // 5} photos")
    with tempfile.TemporaryDirectory(prefix="imgrec-bench-training-") as workdir:
        through_the_service(photos, registry, Path(workdir))
    registry.close()


if __name__ == "__main__":
    main()
