"""`python manage.py purge_history [--days N]`: delete old history entries and their thumbnails."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from recognizer.history.store import purge_history


class Command(BaseCommand):
    help = "Delete history entries older than IMGREC_HISTORY_DAYS (or --days) together with their thumbnails."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help=f"age limit in days (default: IMGREC_HISTORY_DAYS, now {settings.IMGREC_HISTORY_DAYS})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"] if options["days"] is not None else settings.IMGREC_HISTORY_DAYS
        if days < 0:
            raise CommandError(f"Expected --days to be 0 or more. Received {days}")
        deleted = purge_history(older_than_days=days)
        self.stdout.write(f"Deleted {deleted} history entries older than {days} days (and their thumbnails).")
