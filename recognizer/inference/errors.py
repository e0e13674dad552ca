"""Errors a user can cause or meet. Each carries the HTTP status it is answered with (by ops/responses.py)."""

from __future__ import annotations

ECHO_CHARS = 100


def shown(value: object, *, limit: int = ECHO_CHARS, quoted: bool = True) -> str:
    """A user-supplied value as an error message may echo it: at most `limit` characters of it (repr'd
    when `quoted`), and how long it really was when cut."""
    text = str(value)
    if len(text) <= limit:
        return repr(text) if quoted else text
    cut = repr(text[:limit]) if quoted else text[:limit]
    return f"{cut}… ({len(text):,} characters)"


class RecognizerError(Exception):
    status = 400
    retry_after_s: int | None = None


class InvalidInput(RecognizerError):
    status = 400


class ImageTooLarge(RecognizerError):
    status = 413


class UnsupportedImage(RecognizerError):
    status = 415


class LengthRequired(RecognizerError):
    """A body whose length is neither declared nor readable within the cap (a chunked multipart)."""

    status = 411


class ModelNotFound(RecognizerError):
    status = 404


class ModelNotReady(RecognizerError):
    status = 503
    retry_after_s = 5


class MethodNotAllowed(RecognizerError):
    status = 405

    def __init__(self, message: str, *, allowed: tuple[str, ...]) -> None:
        super().__init__(message)
        self.allowed = allowed


class RateLimited(RecognizerError):
    status = 429

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Overloaded(RecognizerError):
    """The model's queue is full: refused at once rather than left waiting."""

    status = 503
    retry_after_s = 1


class InferenceFailed(RecognizerError):
    """The model raised while running a batch: the server's fault, not the request's."""

    status = 500


class InferenceTimeout(RecognizerError):
    """The request's deadline passed before its batch ran."""

    status = 504


class NotExplainable(RecognizerError):
    """The model has no convolutional feature map for Grad-CAM to weigh."""

    status = 400


class Conflict(RecognizerError):
    """The name is taken (a catalogue model or another custom model)."""

    status = 409
