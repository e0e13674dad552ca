"""A job from a multipart upload (the API and the batch page): `images` (repeated) and/or one `archive`.

The upload handler (ops/uploads.py) has spooled every file to disk; here they are read one at a time
into the job's rows and each temporary file is removed as soon as the job is stored (or refused).
"""

from __future__ import annotations

from collections.abc import Iterator

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from recognizer.inference.errors import InvalidInput
from recognizer.jobs.archives import MIB
from recognizer.jobs.models import Job
from recognizer.jobs.services import Photo, create_job


def create_job_from_upload(
    *, model_name: str, top_k: int, session_key: str, images: list[UploadedFile], archive: UploadedFile | None
) -> Job:
    try:
        if not images and archive is None:
            raise InvalidInput(
                "Expected photos in the multipart field 'images' (repeated) and/or a .zip in 'archive'. "
                "Received neither"
            )
        return create_job(
            model_name=model_name,
            top_k=top_k,
            session_key=session_key,
            photos=_photos(images),
            archive_path=None if archive is None else _path_of(archive),
        )
    finally:
        for upload in [*images, *([archive] if archive is not None else [])]:
            upload.close()  # a temporary upload file is deleted when closed


def _photos(images: list[UploadedFile]) -> Iterator[Photo]:
    cap = settings.IMGREC_MAX_UPLOAD_BYTES
    for image in images:
        name = (image.name or "").rsplit("/", 1)[-1]
        if image.size is not None and image.size > cap:
            error = f"Expected a photo of at most {cap // MIB} MB. Received {image.size / MIB:.1f} MB"
            yield Photo(name=name, data=None, error=error)
            continue
        image.seek(0)
        yield Photo(name=name, data=image.read())


def _path_of(archive: UploadedFile) -> str:
    temporary_file_path = getattr(archive, "temporary_file_path", None)
    if temporary_file_path is None:  # an upload small enough to stay in memory in another handler
        raise InvalidInput("Expected the archive to be streamed to disk. Received it in memory")
    return str(temporary_file_path())
