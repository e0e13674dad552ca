"""Uploads are held in memory, never written to disk."""

from __future__ import annotations

import os
from pathlib import Path

from django.core.files.uploadedfile import InMemoryUploadedFile, SimpleUploadedFile
from django.test import RequestFactory
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from recognizer.ops.uploads import CappedMemoryUploadHandler


def test_a_large_upload_stays_in_memory(settings, tmp_path: Path) -> None:  # noqa: ANN001
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    data = os.urandom(9 * 1024 * 1024)  # under the 10 MB cap, far over Django's 2.5 MB default
    body = encode_multipart(BOUNDARY, {"image": SimpleUploadedFile("big.png", data)})
    request = RequestFactory().generic("POST", "/", body, content_type=MULTIPART_CONTENT)
    uploaded = request.FILES["image"]
    assert [type(handler) for handler in request.upload_handlers] == [CappedMemoryUploadHandler]
    assert isinstance(uploaded, InMemoryUploadedFile) and uploaded.read() == data
    assert list(tmp_path.iterdir()) == []
