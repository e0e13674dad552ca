"""The custom models' rows as the registry's `CustomHeadSource`: how every app node and worker loads them.

`find` reads the row without its head on every use (one indexed query), so a deleted model is gone at
once and a new one under the same name replaces the old; the version is the row's id and when its head
was written, so the head itself is read and loaded once per process and version (inference/custom.py
keeps the loaded ones). Access is not checked here: the views check it before naming a model (the CLI is
trusted and may use any custom model).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recognizer.custom.access import NAME_PATTERN
from recognizer.custom.heads import head_sha256, load_head
from recognizer.custom.models import CustomModel
from recognizer.inference.custom import CustomHeadRef, CustomModels

if TYPE_CHECKING:
    import keras

    from recognizer.inference.registry import ModelRegistry


class DatabaseHeadSource:
    def find(self, name: str) -> CustomHeadRef | None:
        if not NAME_PATTERN.fullmatch(name):
            return None
        row = (
            CustomModel.objects.filter(name=name)
            .only("id", "name", "backbone", "classes", "state", "backbone_fingerprint", "finished_at")
            .first()
        )
        if row is None:
            return None
        written = row.finished_at.isoformat() if row.finished_at else ""
        return CustomHeadRef(
            name=row.name,
            backbone=row.backbone,
            classes=tuple(row.classes),
            state=row.state,
            version=f"{row.id}:{written}",
            backbone_fingerprint=row.backbone_fingerprint,
        )

    def load_head(self, ref: CustomHeadRef) -> tuple[keras.Model, str]:
        data = bytes(CustomModel.objects.filter(name=ref.name).values_list("head", flat=True).first() or b"")
        return load_head(data, class_count=len(ref.classes)), head_sha256(data)


def serve_custom_models(registry: ModelRegistry) -> ModelRegistry:
    """Let `registry` serve the custom models stored in the database (the web side's and workers' registries)."""
    registry.custom = CustomModels(registry, DatabaseHeadSource())
    return registry
