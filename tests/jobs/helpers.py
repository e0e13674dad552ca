"""Submitting jobs through the API and waiting for them, as a client would."""

from __future__ import annotations

import io
import time
import zipfile
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests.images import encode, scene_rgb

FINISHED = ("done", "failed", "cancelled")


def jpeg(seed: int, width: int = 200, height: int = 150) -> bytes:
    """A distinct small photo per seed."""
    image = scene_rgb(width, height).rotate(seed * 7 % 360)
    return encode(image, "JPEG", quality=85)


def zip_of(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def upload(name: str, data: bytes, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def submit(client: Client, **fields: Any) -> Any:
    return client.post("/api/v1/jobs", {"model": "efficientnet_lite0", "top_k": "3", **fields})


def wait_for(client: Client, status_url: str, *, until: tuple[str, ...] = FINISHED, timeout_s: float = 240) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        status = client.get(status_url).json()
        if status["state"] in until or time.monotonic() > deadline:
            return status
        time.sleep(0.3)


def all_results(client: Client, results_url: str) -> list[dict]:
    results: list[dict] = []
    offset: int | None = 0
    while offset is not None:
        page = client.get(results_url, {"offset": offset, "limit": 7}).json()
        results += page["results"]
        offset = page["next"]
    return results
