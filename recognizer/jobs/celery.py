"""The Celery app, configured from Django's settings (the `CELERY_*` names), as Celery's Django guide does.

A worker: `celery -A recognizer.jobs.celery worker --pool=solo` (`make worker`). One process per worker:
the model's weights are loaded once in it and its batching engine runs the chunks (tasks.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imgrec_site.settings")

app = Celery("imgrec")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["recognizer.jobs", "recognizer.custom"])


@signals.worker_init.connect
def ensure_broker_folders(**_: object) -> None:
    """The filesystem transport's folders must exist before anyone sends or receives."""
    options = app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        if key in options:
            Path(options[key]).mkdir(parents=True, exist_ok=True)
