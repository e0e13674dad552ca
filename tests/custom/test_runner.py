"""Training a stored custom model in this process: its progress on the row, a ready model with a loadable
head and no photo bytes left, a superseded attempt that writes nothing, and a failure with its reason."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from recognizer import serving
from recognizer.custom.models import CustomModel, FeatureVector, TrainingPhoto
from recognizer.custom.runner import run_training
from recognizer.custom.training import LabelledPhoto
from recognizer.inference.registry import ModelRegistry
from tests.custom.helpers import texture_set


def stored_model(photos: list[LabelledPhoto], *, name: str = "textures", backbone: str = "efficientnet_lite0"
                 ) -> CustomModel:  # fmt: skip
    classes = sorted({photo.label for photo in photos})
    facts = {"attempt": 1, "photos": len(photos)}
    model = CustomModel.objects.create(name=name, backbone=backbone, classes=classes, facts=facts)
    TrainingPhoto.objects.bulk_create(
        TrainingPhoto(model=model, index=i, label=p.label, name=p.name, sha256=p.sha256, data=p.data)
        for i, p in enumerate(photos)
    )
    return model


@pytest.mark.slow
def test_a_trained_model_is_ready_with_its_head_report_and_progress_and_its_photos_dropped(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    model = stored_model(texture_set(6))

    assert run_training(model_id=model.id, attempt=1, registry=registry)

    model.refresh_from_db()
    assert (model.state, model.stage, model.reason) == ("ready", "done", "")
    assert model.classes == ["brick", "gravel"] and model.class_balance == {"brick": 6, "gravel": 6}
    assert model.backbone_fingerprint == registry.get("efficientnet_lite0").fingerprint
    assert model.epochs and [row["epoch"] for row in model.epochs] == list(range(1, len(model.epochs) + 1))
    assert model.facts["features_done"] == 12 and model.facts["epochs_run"] == len(model.epochs)
    assert set(model.validation) == {"accuracy", "per_class", "confusion"}
    assert sum(map(sum, model.validation["confusion"])) == 2  # one held-out photo per class (20% of 6)
    assert zipfile.is_zipfile(io.BytesIO(bytes(model.head)))  # a .keras file is a zip
    assert not TrainingPhoto.objects.filter(model=model).exclude(data=b"").exists()
    assert FeatureVector.objects.count() == 12

    path = tmp_path / "head.keras"
    path.write_bytes(bytes(model.head))
    head = keras.models.load_model(path)
    assert head.output_shape == (None, 2)
    np.testing.assert_allclose(np.asarray(head(np.zeros((1, head.input_shape[1])))).sum(), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_a_second_training_on_the_same_photos_reads_their_features_from_the_cache(registry: ModelRegistry) -> None:
    photos = texture_set(5)
    run_training(model_id=stored_model(photos, name="first").id, attempt=1, registry=registry)
    cached = FeatureVector.objects.count()
    second = stored_model(photos, name="second")
    assert run_training(model_id=second.id, attempt=1, registry=registry)
    assert FeatureVector.objects.count() == cached == 10
    second.refresh_from_db()
    assert second.state == "ready" and second.facts["features_done"] == 10


def test_a_run_of_an_old_attempt_writes_nothing(registry: ModelRegistry) -> None:
    model = stored_model(texture_set(5))
    CustomModel.objects.filter(id=model.id).update(facts={"attempt": 2, "photos": 10})

    assert not run_training(model_id=model.id, attempt=1, registry=registry)

    model.refresh_from_db()
    assert (model.state, model.stage, model.epochs, bytes(model.head)) == ("training", "queued", [], b"")


def test_a_failure_leaves_the_model_failed_with_the_reason_and_its_photos_kept(registry: ModelRegistry) -> None:
    model = stored_model(texture_set(5), backbone="densenet121")  # not among this registry's models

    assert not run_training(model_id=model.id, attempt=1, registry=registry)

    model.refresh_from_db()
    assert (model.state, model.stage) == ("failed", "failed")
    assert "densenet121" in model.reason and model.reason.startswith("Training failed: ModelNotFound")
    assert bytes(model.head) == b""
    assert TrainingPhoto.objects.filter(model=model).exclude(data=b"").count() == 10


def test_a_photo_cut_short_after_its_header_fails_the_training_by_name() -> None:
    photos = texture_set(5)
    cut = LabelledPhoto(label="brick", name="brick/cut.jpg", data=photos[0].data[: len(photos[0].data) // 2])
    model = stored_model([*photos[1:], cut])

    assert not run_training(model_id=model.id, attempt=1, registry=serving.get_registry())  # nothing loaded

    model.refresh_from_db()
    assert model.state == "failed"
    assert model.reason.startswith("Training failed: TrainingSetRefused: Expected photos that decode whole. "
                                   "Received 'brick/cut.jpg': ")  # fmt: skip
