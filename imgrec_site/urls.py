from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("", include("recognizer.urls")),
]

# Django's own error views, JSON under /api/ (recognizer/ops/handlers.py).
handler400 = "recognizer.ops.handlers.bad_request"
handler403 = "recognizer.ops.handlers.permission_denied"
handler404 = "recognizer.ops.handlers.page_not_found"
handler500 = "recognizer.ops.handlers.server_error"
