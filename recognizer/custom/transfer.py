"""A custom model as a zip to download, and a zip uploaded to make one (on this server or another).

The zip holds `model.keras` (the head), `labels.json` (the class names, in the head's output order) and
`backbone.json` (`{"name", "fingerprint"}`: the backbone and its weights, which the head is only valid
on). An upload is hostile until checked: a zip of at most a few known members with bounded sizes, labels
that are distinct short strings, a backbone this server enables with the same weights, and a head that
passes custom/heads.py (only Input/Dropout/Dense layers, loaded in safe mode) with one output per label and
one input per pooled feature of the backbone.
"""

from __future__ import annotations

import io
import json
import secrets
import zipfile
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone

from recognizer.custom.access import Requester
from recognizer.custom.heads import load_head
from recognizer.custom.lifecycle import check_new_name
from recognizer.custom.models import CustomModel
from recognizer.inference.custom import pooled_feature_tensor
from recognizer.inference.errors import Conflict, InvalidInput, shown
from recognizer.inference.registry import ModelRegistry

MEMBERS = ("model.keras", "labels.json", "backbone.json")
MAX_MEMBER_BYTES = {"model.keras": 256 * 1024 * 1024, "labels.json": 1024 * 1024, "backbone.json": 4096}
MAX_MEMBERS = 16
MAX_LABEL_CHARS = 64
MAX_CLASSES = 1000


def export_zip(model: CustomModel) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model.keras", bytes(model.head))
        archive.writestr("labels.json", json.dumps(list(model.classes), indent=1))
        archive.writestr(
            "backbone.json", json.dumps({"name": model.backbone, "fingerprint": model.backbone_fingerprint})
        )
    return buffer.getvalue()


def download_response(model: CustomModel) -> HttpResponse:
    """The model's zip as an attachment named after it (the API's and the pages' download); only a ready
    model has a head to export."""
    if model.state != model.READY:
        raise InvalidInput(f"Expected a ready custom model to download. Received {shown(model.name)}, {model.state}")
    response = HttpResponse(export_zip(model), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{model.name}.zip"'
    return response


@dataclass(frozen=True)
class Uploaded:
    model: CustomModel
    token: str


def _members(data: bytes) -> dict[str, bytes]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise InvalidInput(
            f"Expected a zip with {', '.join(MEMBERS)} (as GET /api/v1/custom-models/{{name}}/download gives). "
            f"Received {len(data):,} bytes that are not a zip"
        ) from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise InvalidInput(f"Expected a zip of {len(MEMBERS)} files. Received one of {len(infos):,} entries")
        found = {info.filename: info for info in infos}
        missing = [name for name in MEMBERS if name not in found]
        if missing:
            received = ", ".join(shown(name, limit=40) for name in list(found)[:5]) or "nothing"
            raise InvalidInput(
                f"Expected {', '.join(MEMBERS)} in the zip. Missing {', '.join(missing)}; received {received}"
            )
        members = {}
        for name in MEMBERS:
            if found[name].file_size > MAX_MEMBER_BYTES[name]:
                raise InvalidInput(
                    f"Expected {name} of at most {MAX_MEMBER_BYTES[name]:,} bytes. Received {found[name].file_size:,}"
                )
            try:
                members[name] = archive.read(found[name])
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as error:
                raise InvalidInput(
                    f"Expected a readable {name}. Received a damaged one: {shown(error, limit=80)}"
                ) from None
    return members


def _json_member(members: dict[str, bytes], name: str) -> object:
    try:
        return json.loads(members[name])
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(f"Expected {name} to be JSON. Received {len(members[name]):,} bytes that are not") from None


def _labels(members: dict[str, bytes]) -> list[str]:
    labels = _json_member(members, "labels.json")
    if (
        not isinstance(labels, list)
        or not all(isinstance(label, str) and 0 < len(label) <= MAX_LABEL_CHARS for label in labels)
        or not 2 <= len(labels) <= MAX_CLASSES
        or len(set(labels)) != len(labels)
    ):
        raise InvalidInput(
            f"Expected labels.json to be a list of 2 to {MAX_CLASSES} distinct class names of 1 to {MAX_LABEL_CHARS} "
            f"characters. Received {shown(json.dumps(labels), limit=80)}"
        )
    return labels


def _backbone(members: dict[str, bytes], registry: ModelRegistry) -> tuple[str, str]:
    described = _json_member(members, "backbone.json")
    name = described.get("name") if isinstance(described, dict) else None
    fingerprint = described.get("fingerprint") if isinstance(described, dict) else None
    if not isinstance(name, str) or not isinstance(fingerprint, str):
        raise InvalidInput(
            'Expected backbone.json to be {"name": <model>, "fingerprint": <weights>}. '
            f"Received {shown(json.dumps(described), limit=80)}"
        )
    if name not in registry.names:
        raise InvalidInput(f"Expected a backbone among {', '.join(registry.names)}. Received {shown(name, limit=40)}")
    here = registry.get(name).fingerprint
    if fingerprint != here:
        raise InvalidInput(
            f"Expected a head trained on this server's {name} weights (fingerprint {here}). "
            f"Received one trained on {shown(fingerprint, limit=40)}: its answers would be meaningless here"
        )
    return name, fingerprint


def import_zip(data: bytes, *, name: str, public: bool, registry: ModelRegistry) -> Uploaded:
    """A new ready custom model from an uploaded zip, owned by a new token (returned once, stored hashed)."""
    check_new_name(name)
    members = _members(data)
    labels = _labels(members)
    backbone, fingerprint = _backbone(members, registry)
    feature_size = pooled_feature_tensor(registry.get(backbone).compiled.model).shape[-1]
    load_head(members["model.keras"], class_count=len(labels), feature_size=feature_size)
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    try:
        with transaction.atomic():
            model = CustomModel.objects.create(
                name=name,
                backbone=backbone,
                backbone_fingerprint=fingerprint,
                classes=labels,
                state=CustomModel.READY,
                public=public,
                **Requester(token_sha256=CustomModel.hash_token(token)).owner_fields,
                head=members["model.keras"],
                stage="uploaded",
                facts={"uploaded": True},
                started_at=now,
                finished_at=now,
            )
    except IntegrityError:  # the same name created meanwhile
        raise Conflict(f"Expected a name no model has. Received {shown(name)}, taken a moment ago") from None
    return Uploaded(model=model, token=token)
