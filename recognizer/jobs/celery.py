"""The Celery app, configured from Django's settings (the `CELERY_*` names), as Celery's Django guide does.

A worker: `celery -A recognizer.jobs.celery worker` (`make worker`). One process per worker (settings.py,
CELERY_WORKER_POOL: threads, not prefork): the model's weights are loaded once in it and its batching engine runs
the chunks (tasks.py), two at once on two threads, so that one chunk's start overlaps the other's forward passes.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imgrec_site.settings")

logger = logging.getLogger(__name__)

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


@signals.worker_ready.connect
def requeue_lost_chunks(**_: object) -> None:
    """The filesystem broker has no acknowledgements: a chunk its worker was running when it died is gone
    from the queue. With that broker there is one worker (`make run`'s), so as it starts, every chunk
    still unfinished is queued again. Redis redelivers by itself (acks_late, visibility timeout)."""
    if not str(app.conf.broker_url).startswith("filesystem:"):
        return
    from recognizer.jobs.services import requeue_unfinished_jobs  # Django is set up once the worker is

    requeued = requeue_unfinished_jobs()
    if requeued:
        logger.warning("queued again %d unfinished chunk(s) of earlier jobs", requeued)
