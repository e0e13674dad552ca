"""The Celery task that trains a custom model, on the batch jobs' app and broker.

Acknowledged only after it ran (`acks_late`) and requeued if its worker dies (`reject_on_worker_lost`):
a worker killed mid-training leaves the model `training`, and the broker hands the task to another worker
after its visibility timeout, which starts over from the stored photos (runner.py).
"""

from __future__ import annotations

import logging

from celery import signals

from recognizer import serving
from recognizer.custom.models import CustomModel
from recognizer.jobs.celery import app

logger = logging.getLogger(__name__)


@app.task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def train_custom_model(model_id: str, attempt: int) -> bool:
    # Keras only where a model trains: the web side queues this task without importing TensorFlow.
    from recognizer.custom.runner import run_training

    return run_training(model_id=model_id, attempt=attempt, registry=serving.get_registry())


@signals.worker_ready.connect
def requeue_lost_training(**_: object) -> None:
    """On the embedded filesystem broker (no acknowledgements, one worker: `make run`'s) a training its
    worker was running when it died is gone from the queue: queue every unfinished one again as the worker
    starts. A copy that was not lost runs first; the other then finds the model no longer training and
    stops (runner.py). Redis redelivers by itself."""
    if not str(app.conf.broker_url).startswith("filesystem:"):
        return
    unfinished = CustomModel.objects.filter(state=CustomModel.TRAINING).values_list("id", "facts")
    for model_id, facts in unfinished:
        train_custom_model.delay(str(model_id), int((facts or {}).get("attempt", 1)))
    if unfinished:
        logger.warning("queued again %d unfinished training(s)", len(unfinished))
