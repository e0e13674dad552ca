from __future__ import annotations

from django.apps import AppConfig


class RecognizerConfig(AppConfig):
    name = "recognizer"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Cheap and idempotent: it registers checks. Models load lazily or in the server's
        # background preload (imgrec_site/wsgi.py), never for commands such as migrate.
        from recognizer.ops import checks  # noqa: F401
