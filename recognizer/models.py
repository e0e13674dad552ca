"""Django finds an app's models here; they live with their concern (history/, jobs/, custom/models.py)."""

from recognizer.custom.models import CustomModel, FeatureVector, TrainingPhoto
from recognizer.history.models import HistoryEntry, Thumbnail
from recognizer.jobs.models import Job, JobImage

__all__ = ["CustomModel", "FeatureVector", "HistoryEntry", "Job", "JobImage", "Thumbnail", "TrainingPhoto"]
