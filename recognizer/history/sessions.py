"""The browser session a page request belongs to: whose history an entry is."""

from __future__ import annotations

from django.http import HttpRequest


def session_key_of(request: HttpRequest, *, create: bool) -> str | None:
    """The browser session's key; with create=True a session (and its cookie) is started if needed."""
    if request.session.session_key is None and create:
        request.session["keeps_history"] = True  # a modified session is saved and its cookie sent
        request.session.save()
    return request.session.session_key
