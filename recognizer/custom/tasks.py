"""The Celery task that trains a custom model, on the batch jobs' app and broker.

Acknowledged only after it ran (`acks_late`) and requeued if its worker dies (`reject_on_worker_lost`):
a worker killed mid-training leaves the model `training`, and the broker hands the task to another worker
after its visibility timeout, which starts over from the stored photos (runner.py).
"""

from __future__ import annotations

from recognizer import serving
from recognizer.custom.runner import run_training
from recognizer.jobs.celery import app


@app.task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def train_custom_model(model_id: str, attempt: int) -> bool:
    return run_training(model_id=model_id, attempt=attempt, registry=serving.get_registry())
