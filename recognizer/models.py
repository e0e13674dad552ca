"""Django finds an app's models here; they live with their concern (history/models.py, jobs/models.py)."""

from recognizer.history.models import HistoryEntry, Thumbnail
from recognizer.jobs.models import Job, JobImage

__all__ = ["HistoryEntry", "Job", "JobImage", "Thumbnail"]
