"""Pages of the per-session history: the list, delete, CSV/JSON export, and each entry's thumbnail."""

from __future__ import annotations

from uuid import UUID

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from recognizer.history.exports import export_csv, export_json
from recognizer.history.models import HistoryEntry
from recognizer.history.sessions import session_key_of
from recognizer.history.store import delete_history_entry, read_thumbnail, session_history


@require_safe
def history(request: HttpRequest) -> HttpResponse:
    entries = session_history(session_key=session_key_of(request, create=False))
    context = {"entries": entries, "history_days": settings.IMGREC_HISTORY_DAYS}
    return render(request, "recognizer/history.html", context)


@require_POST
def delete(request: HttpRequest, entry_id: UUID) -> HttpResponse:
    if not delete_history_entry(entry_id=entry_id, session_key=session_key_of(request, create=False)):
        raise Http404("Expected an entry of this browser session's history. Received another id")
    return HttpResponseRedirect(reverse("recognizer:history"))


@require_safe
def export(request: HttpRequest, fmt: str) -> HttpResponse:
    entries = session_history(session_key=session_key_of(request, create=False))
    if fmt == "csv":
        response = HttpResponse(export_csv(entries), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(export_json(entries), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="imgrec-history.{fmt}"'
    return response


@require_safe
def thumbnail(request: HttpRequest, entry_id: UUID) -> HttpResponse:
    data = read_thumbnail(get_object_or_404(HistoryEntry, id=entry_id))
    if data is None:
        raise Http404("The thumbnail of this entry is gone")
    response = HttpResponse(data, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=86400"
    return response
