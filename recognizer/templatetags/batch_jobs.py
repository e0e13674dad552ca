"""`{% session_batch_jobs %}`: the batch jobs of this browser session, on the history page. A tag, so the
history package does not depend on the jobs package (tests/test_layers.py)."""

from __future__ import annotations

from typing import Any

from django import template

from recognizer.jobs.services import session_jobs

register = template.Library()


@register.inclusion_tag("recognizer/_session_jobs.html", takes_context=True)
def session_batch_jobs(context: dict[str, Any]) -> dict[str, Any]:
    request = context["request"]
    return {"jobs": session_jobs(session_key=request.session.session_key)}
