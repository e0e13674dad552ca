"""An upload handler that keeps the file in memory and stops reading past IMGREC_MAX_UPLOAD_MB.

A request that declares a larger body is not parsed at all; one that sends more than it declared
is cut off at the cap; a second file stops the parsing too (`request.upload_too_many_files`).
Either way `request.upload_too_large` tells the view to answer 413, and no
upload is ever written to disk.
"""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload, TemporaryFileUploadHandler
from django.http import QueryDict
from django.http.multipartparser import MultiPartParserError
from django.utils.datastructures import MultiValueDict

from recognizer.inference.errors import ImageTooLarge, InvalidInput, LengthRequired, shown

# Room for the multipart boundaries and the other form fields around the file.
ENVELOPE_BYTES = 64 * 1024


class _DeclaredLengthCap:
    """What both handlers do with the request: refuse a declared length over `cap` (plus the multipart
    envelope) before reading anything, and mark the request (`too_large_mark`) for the view to answer 413."""

    cap: int
    too_large_mark: str
    request: Any

    def handle_raw_input(
        self, input_data: Any, META: dict[str, Any], content_length: int, boundary: bytes, encoding: str | None = None
    ) -> tuple[QueryDict, MultiValueDict] | None:
        if content_length > self.cap + ENVELOPE_BYTES:
            self._mark_too_large(content_length)
            return QueryDict(), MultiValueDict()
        return None

    def _mark_too_large(self, received_bytes: int) -> None:
        if self.request is not None:
            setattr(self.request, self.too_large_mark, received_bytes)


class CappedMemoryUploadHandler(_DeclaredLengthCap, FileUploadHandler):
    too_large_mark = "upload_too_large"

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.cap = settings.IMGREC_MAX_UPLOAD_BYTES
        self.files_seen = 0

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.files_seen += 1
        if self.files_seen > 1:
            if self.request is not None:
                self.request.upload_too_many_files = True
            raise StopUpload(connection_reset=False)
        self.buffer = io.BytesIO()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        if start + len(raw_data) > self.cap:
            self._mark_too_large(start + len(raw_data))
            raise StopUpload(connection_reset=False)
        self.buffer.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> InMemoryUploadedFile:
        self.buffer.seek(0)
        return InMemoryUploadedFile(
            file=self.buffer,
            field_name=self.field_name,
            name=self.file_name,
            content_type=self.content_type,
            size=file_size,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )


# --- checks shared by the upload page and the JSON API ------------------------------------------


def multipart_upload(request: Any, *, field: str = "image") -> tuple[QueryDict, Any]:
    """The form fields and the uploaded file of a multipart request, or the RecognizerError to answer.

    Raises ImageTooLarge (413) past IMGREC_MAX_UPLOAD_MB and InvalidInput (400) for a second file.
    The file is `None` when the field is missing; the caller decides how to say so.
    """
    if is_chunked(request):
        raise LengthRequired(
            "Expected a multipart/form-data body with a Content-Length. Received a chunked body without one "
            "(send it with its length, or the image alone as an image/* body)"
        )
    try:
        data, files = request.POST, request.FILES
    except RequestDataTooBig:
        raise ImageTooLarge("Expected form fields under 1 MB besides the image. Received more") from None
    except (TooManyFieldsSent, TooManyFilesSent):
        raise InvalidInput(
            f"Expected at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,} form fields and one file. Received more"
        ) from None
    except MultiPartParserError as error:
        raise InvalidInput(
            f"Expected a multipart/form-data body. Received one that could not be parsed: {shown(error)}"
        ) from None
    if getattr(request, "upload_too_many_files", False):
        raise InvalidInput("Expected one image file per request. Received more than one")
    too_large = getattr(request, "upload_too_large", None)
    if too_large:
        raise upload_too_large(too_large)
    return data, files.get(field)


def read_capped_body(request: Any) -> bytes:
    """A raw request body of at most IMGREC_MAX_UPLOAD_BYTES, reading no more than one byte past the cap.

    A chunked body (no Content-Length) is read from the server's de-chunking input stream, within the
    same cap: Django's own stream reads nothing without a Content-Length. (Behind nginx the body
    arrives with its length; gunicorn alone passes chunked bodies through `wsgi.input`.)
    """
    cap = settings.IMGREC_MAX_UPLOAD_BYTES
    declared = declared_length(request)
    if declared > cap:
        raise upload_too_large(declared)
    stream = request.META["wsgi.input"] if is_chunked(request) else request
    data = _read_up_to(stream, cap + 1)
    if len(data) > cap:
        raise upload_too_large(len(data))
    return data


def _read_up_to(stream: Any, limit: int) -> bytes:
    """At most `limit` bytes: a chunked stream's read(n) may return fewer than n before its end."""
    chunks: list[bytes] = []
    remaining = limit
    while remaining > 0:
        chunk = stream.read(min(remaining, 64 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def is_chunked(request: Any) -> bool:
    """A body sent with Transfer-Encoding: chunked and no Content-Length."""
    encoding = request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    return "chunked" in encoding and not request.META.get("CONTENT_LENGTH")


def declared_length(request: Any) -> int:
    """The request's Content-Length, 0 when absent or not a number."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def upload_too_large(received_bytes: int) -> ImageTooLarge:
    return ImageTooLarge(
        f"Expected an upload of at most {settings.IMGREC_MAX_UPLOAD_MB} MB. "
        f"Received {received_bytes / 1024 / 1024:.1f} MB or more"
    )


# --- a batch job's upload: many files, streamed to disk ------------------------------------------

# Posts that may carry a whole collection (the API's job submission and the batch page) or a training set
# (the API's custom model creation and the Train page).
JOB_UPLOAD_PATHS = ("/api/v1/jobs", "/batch/", "/api/v1/custom-models", "/train/")


def is_job_upload(request: Any) -> bool:
    return request.method == "POST" and request.path in JOB_UPLOAD_PATHS


class SpoolingUploadHandler(_DeclaredLengthCap, TemporaryFileUploadHandler):
    """Every file of the request to its own temporary file (removed when it is closed), all of them
    together held to IMGREC_ARCHIVE_MAX_MB while the body streams in; nothing large stays in memory."""

    too_large_mark = "job_upload_too_large"

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.cap = settings.IMGREC_ARCHIVE_MAX_MB * 1024 * 1024
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > self.cap:
            self._mark_too_large(self.received)
            raise StopUpload(connection_reset=False)
        return super().receive_data_chunk(raw_data, start)


def job_upload(request: Any) -> tuple[QueryDict, MultiValueDict]:
    """The fields and files of a job's multipart upload, parsed through SpoolingUploadHandler.

    Raises ImageTooLarge (413) past IMGREC_ARCHIVE_MAX_MB, InvalidInput (400) for a broken body."""
    if not hasattr(request, "_files"):  # not parsed yet (the middleware parses it first)
        request.upload_handlers = [SpoolingUploadHandler(request)]
    try:
        data, files = request.POST, request.FILES
    except RequestDataTooBig:
        raise ImageTooLarge("Expected form fields under 1 MB besides the files. Received more") from None
    except (MultiPartParserError, TooManyFilesSent) as error:
        raise InvalidInput(
            f"Expected a multipart/form-data body. Received one that could not be parsed: {error}"
        ) from None
    too_large = getattr(request, "job_upload_too_large", None)
    if too_large:
        raise job_upload_too_large(too_large)
    return data, files


def job_upload_too_large(received_bytes: int) -> ImageTooLarge:
    return ImageTooLarge(
        f"Expected the photos and archive of one job to be at most {settings.IMGREC_ARCHIVE_MAX_MB} MB together. "
        f"Received {received_bytes / 1024 / 1024:.1f} MB or more"
    )
