"""Django finds an app's models here; they live with their concern (history/models.py)."""

from recognizer.history.models import HistoryEntry, Thumbnail

__all__ = ["HistoryEntry", "Thumbnail"]
