"""A real trained head for the custom-model tests: brick against gravel, from crops of the scikit-image
wheel's photos, on EfficientNet-Lite0's real weights. Trained once per test run (session scope); each test
stores it in rows of its own with `make_custom_model`. tests/conftest.py imports these, so the API, jobs and
command tests share the one training."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.utils import timezone

from recognizer.custom.heads import head_bytes
from recognizer.custom.models import CustomModel
from recognizer.custom.training import LabelledPhoto, TrainedHead, TrainingOptions, train_head
from recognizer.inference.registry import ModelRegistry
from tests.custom.test_training import texture_crops

BACKBONE = "efficientnet_lite0"
CLASSES = ["brick", "gravel"]


@dataclass(frozen=True)
class TrainedBrickGravel:
    trained: TrainedHead
    head: bytes  # the `.keras` file
    fingerprint: str  # the backbone's weights it was trained on


@pytest.fixture(scope="session")
def brick_gravel(registry: ModelRegistry) -> TrainedBrickGravel:
    backbone = registry.get(BACKBONE)
    photos = [
        LabelledPhoto(label=label, name=f"{label}-{i}.jpg", data=data)
        for label, source in (("brick", "brick.png"), ("gravel", "gravel.png"))
        for i, data in enumerate(texture_crops(source, count=8, rows=(0.0, 0.6), seed=1))
    ]
    trained = train_head(photos, backbone=backbone, options=TrainingOptions(max_epochs=30, patience=5))
    return TrainedBrickGravel(trained=trained, head=head_bytes(trained.head), fingerprint=backbone.fingerprint)


@pytest.fixture
def brick_photo() -> bytes:
    """A crop from rows of brick.png that the head never trained on."""
    return texture_crops("brick.png", count=1, rows=(0.6, 1.0), seed=5)[0]


@pytest.fixture
def gravel_photo() -> bytes:
    return texture_crops("gravel.png", count=1, rows=(0.6, 1.0), seed=5)[0]


MakeCustomModel = Callable[..., CustomModel]


@pytest.fixture
def make_custom_model(brick_gravel: TrainedBrickGravel) -> MakeCustomModel:
    """`make_custom_model(name, token=..., session_key=..., public=..., state=...)`: a ready row with the real head."""

    def make(
        name: str = "bricks", *, token: str = "", session_key: str = "", public: bool = False, state: str = "ready"
    ) -> CustomModel:
        trained = brick_gravel.trained
        return CustomModel.objects.create(
            name=name,
            backbone=BACKBONE,
            backbone_fingerprint=brick_gravel.fingerprint,
            classes=trained.classes,
            state=state,
            public=public,
            session_key=session_key,
            token_sha256=CustomModel.hash_token(token) if token else "",
            head=brick_gravel.head if state == "ready" else b"",
            stage="done" if state == "ready" else "training",
            validation=trained.validation.as_dict(),
            class_balance=trained.class_balance,
            facts={"photos": sum(trained.class_balance.values()), "epochs": len(trained.history)},
            finished_at=timezone.now() if state == "ready" else None,
        )

    return make
