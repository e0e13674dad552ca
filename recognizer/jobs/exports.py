"""A job's results as CSV (pandas): one row per image and prediction rank, errors as rows of their own."""

from __future__ import annotations

import pandas as pd

from recognizer.jobs.models import Job, JobImage

COLUMNS = ["index", "name", "rank", "label", "class_id", "score", "error"]


def results_csv(job: Job) -> str:
    rows: list[dict[str, object]] = []
    images = JobImage.objects.filter(job=job, processed=True).order_by("index")
    for image in images.only("index", "name", "predictions", "error").iterator(chunk_size=500):
        if image.error:
            rows.append({"index": image.index, "name": image.name, "error": image.error})
            continue
        for rank, prediction in enumerate(image.predictions or [], start=1):
            rows.append(
                {
                    "index": image.index,
                    "name": image.name,
                    "rank": rank,
                    "label": prediction["label"],
                    "class_id": prediction["class_id"],
                    "score": prediction["score"],
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS).to_csv(index=False)
