"""What can be done with a custom model once it exists: describe it, delete it, make it public, and check
a new name. The views stay thin; access is decided before these are called (custom/access.py)."""

from __future__ import annotations

from django.db import transaction

from recognizer.custom.access import NAME_PATTERN, NAME_RULE, Requester
from recognizer.custom.errors import ModelNameTaken
from recognizer.custom.models import CustomModel
from recognizer.inference.catalog import SPECS_BY_NAME
from recognizer.inference.errors import InvalidInput, shown

# Paths under /api/v1/custom-models/ that are not a model's.
RESERVED_NAMES = {"upload"}


def custom_model_as_dict(model: CustomModel, *, requester: Requester) -> dict[str, object]:
    """The API's view of a custom model (GET /api/v1/custom-models/{name}); `owned` says whether the
    requester may delete, download or change it."""
    validation = model.validation or {}
    return {
        "name": model.name,
        "kind": "custom",
        "backbone": model.backbone,
        "classes": list(model.classes),
        "state": model.state,
        "stage": model.stage,
        "reason": model.reason,
        "public": model.public,
        "owned": requester.owns(model),
        "validation": {"accuracy": validation.get("accuracy"), "per_class": validation.get("per_class", {})},
        "class_balance": model.class_balance,
        "facts": model.facts,
        "created_at": model.created_at.isoformat(),
        "finished_at": model.finished_at.isoformat() if model.finished_at else None,
    }


def custom_model_status(model: CustomModel) -> dict[str, object]:
    """A custom model as an entry of GET /api/v1/models, beside the catalogue's (same keys, and its own)."""
    return {
        "name": model.name,
        "label": model.name,
        "input_size": SPECS_BY_NAME[model.backbone].input_size if model.backbone in SPECS_BY_NAME else None,
        "state": model.state,
        "reason": model.reason,
        "summary": f"custom, {model.state}",
        "weights": "custom",
        "kind": "custom",
        "backbone": model.backbone,
        "classes": list(model.classes),
        "public": model.public,
        "restarts": 0,
    }


def check_new_name(name: str) -> str:
    """A name a new custom model may take (trained or uploaded): the pattern (400), and neither a catalogue
    model's nor an existing custom model's, in any case (409, whoever owns it: names are unique on the
    server)."""
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidInput(f"Expected a model name of {NAME_RULE}. Received {shown(name)}")
    if name.lower() in RESERVED_NAMES:
        raise ModelNameTaken(f"Expected a name no model has. Received {shown(name)}, a name the API reserves")
    if name.lower() in SPECS_BY_NAME:
        raise ModelNameTaken(
            f"Expected a name that is not a pretrained model's ({', '.join(SPECS_BY_NAME)}). Received "
            f"{shown(name)}, the name of a catalogue model"
        )
    if CustomModel.objects.filter(name__iexact=name).exists():
        raise ModelNameTaken(
            f"Expected a name no other model has. Received {shown(name)}, which is taken (the name of another "
            "custom model)"
        )
    return name


def delete_custom_model(model: CustomModel) -> None:
    """The row and its training photos; every node stops serving it at its next use (custom/loader.py)."""
    with transaction.atomic():
        model.delete()


def set_public(model: CustomModel, *, public: bool) -> CustomModel:
    model.public = public
    model.save(update_fields=["public"])
    return model
