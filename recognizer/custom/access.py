"""Whose custom model is whose: who is asking, which models they may see and use, which they own.

A custom model belongs to the browser session that trained it (pages) or to the holder of the token
returned when it was created (API; only the token's SHA-256 is stored). Its owner sees, uses, downloads,
deletes it and may make it public; once public, everyone may see and use it, and still only the owner
may delete, download or change it. Anyone else is told exactly what they would be told about a name that
does not exist (`CustomModelNotFound`, 404, one message), so the answer says nothing about other people's
models. Tokens are compared as SHA-256 digests, in constant time.

Part B (training) imports `Requester.from_request` and `Requester.owner_fields` to set the owner of a
model it creates.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet
from django.http import HttpRequest

from recognizer.custom.models import CustomModel
from recognizer.history.sessions import session_key_of
from recognizer.inference.errors import InvalidInput, ModelNotFound, shown

if TYPE_CHECKING:
    from recognizer.inference.registry import ModelRegistry

# How many custom models a comparison sets beside the pretrained ones (each is a forward pass of its own).
MAX_COMPARED_CUSTOM = 3

# What a custom model may be called; anything else is no custom model (and never reaches the database).
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
NAME_RULE = "1 to 64 letters, digits, '-' or '_', starting with a letter or digit"

BEARER = re.compile(r"Bearer ([A-Za-z0-9._~+/=-]{1,200})")


class CustomModelNotFound(ModelNotFound):
    """404: no such custom model, or not one of the requester's (the same words for both)."""


def not_found(name: str) -> CustomModelNotFound:
    return CustomModelNotFound(
        f"Unknown custom model. Expected the name of a custom model of yours or a public one. Received: {shown(name)}"
    )


@dataclass(frozen=True)
class Requester:
    """Who is asking: a browser session key, the SHA-256 of a bearer token, both, or neither."""

    session_key: str = ""
    token_sha256: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest, *, session: bool = True) -> Requester:
        """The `Authorization: Bearer <token>` header, and (with `session`) the browser session already
        started (none is started here). The API passes `session=False` on changes sent without our page's
        CSRF token, so another site cannot delete a model with a visitor's cookie."""
        header = request.headers.get("Authorization", "")
        token_sha256 = ""
        if header:
            match = BEARER.fullmatch(header)
            if match is None:
                raise InvalidInput(
                    f"Expected an Authorization header of the form 'Bearer <token>'. Received {shown(header, limit=40)}"
                )
            token_sha256 = CustomModel.hash_token(match.group(1))
        session_key = (session_key_of(request, create=False) or "") if session and hasattr(request, "session") else ""
        return cls(session_key=session_key, token_sha256=token_sha256)

    @property
    def owner_fields(self) -> dict[str, str]:
        """The fields that make a new CustomModel this requester's."""
        return {"session_key": self.session_key, "token_sha256": self.token_sha256}

    def owns(self, model: CustomModel) -> bool:
        by_session = bool(self.session_key) and hmac.compare_digest(self.session_key, model.session_key)
        by_token = bool(self.token_sha256) and hmac.compare_digest(self.token_sha256, model.token_sha256)
        return by_session or by_token


def owned(requester: Requester) -> QuerySet[CustomModel]:
    """The requester's own custom models, newest first."""
    mine = Q(pk__in=[])
    if requester.session_key:
        mine |= Q(session_key=requester.session_key)
    if requester.token_sha256:
        mine |= Q(token_sha256=requester.token_sha256)
    return CustomModel.objects.filter(mine)


def visible(requester: Requester) -> QuerySet[CustomModel]:
    """The custom models the requester may list and use: their own and the public ones, newest first."""
    return CustomModel.objects.filter(Q(public=True) | Q(pk__in=owned(requester).values("pk")))


def ready_names(requester: Requester) -> list[str]:
    """The names of the ready custom models the requester may use: what a model dropdown offers."""
    return list(visible(requester).filter(state=CustomModel.READY).values_list("name", flat=True))


def _named(name: str) -> CustomModel | None:
    if not NAME_PATTERN.fullmatch(name):
        return None
    return CustomModel.objects.filter(name=name).defer("head").first()


def find_visible(name: str, requester: Requester) -> CustomModel:
    model = _named(name)
    if model is None or not (model.public or requester.owns(model)):
        raise not_found(name)
    return model


def find_owned(name: str, requester: Requester) -> CustomModel:
    """Only the owner's: a public model of someone else is as unknown here as any other name."""
    model = _named(name)
    if model is None or not requester.owns(model):
        raise not_found(name)
    return model


def usable_model_name(name: str, requester: Requester, registry: ModelRegistry) -> str:
    """`name` when the requester may ask for it: a catalogue model (the registry answers for its state), or
    a custom model they can see. Else the registry's own 404 for an unknown name, word for word."""
    if name in registry.names:
        return name
    try:
        find_visible(name, requester)
    except CustomModelNotFound:
        raise registry.unknown_model(name) from None
    return name


def comparable_custom_names(requester: Requester, *, limit: int) -> list[str]:
    """The ready custom models a comparison sets beside the pretrained ones: the requester's own first, then
    public ones, newest first, at most `limit` (each is a forward pass of its own on every comparison)."""
    ready = visible(requester).filter(state=CustomModel.READY).defer("head")
    mine = owned(requester).filter(state=CustomModel.READY).values_list("name", flat=True)
    own = list(mine[:limit])
    others = [name for name in ready.values_list("name", flat=True)[: limit * 2] if name not in own]
    return (own + others)[:limit]
