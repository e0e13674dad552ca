"""`{% session_custom_models %}`: the custom models this browser session trained, on the history page.
A tag, so the history package does not depend on the custom package (tests/test_layers.py)."""

from __future__ import annotations

from typing import Any

from django import template

from recognizer.custom.services import session_models

register = template.Library()


@register.inclusion_tag("recognizer/_session_models.html", takes_context=True)
def session_custom_models(context: dict[str, Any]) -> dict[str, Any]:
    request = context["request"]
    return {"models": session_models(session_key=request.session.session_key)}
