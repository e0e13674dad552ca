"""Django finds an app's models here; they live with their concern (history/models.py)."""

from recognizer.history.models import HistoryEntry

__all__ = ["HistoryEntry"]
