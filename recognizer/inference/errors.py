"""Errors a user can cause or meet. Each carries the HTTP status it is answered with (by ops/responses.py)."""

from __future__ import annotations


class RecognizerError(Exception):
    status = 400
    retry_after_s: int | None = None


class InvalidInput(RecognizerError):
    status = 400


class ImageTooLarge(RecognizerError):
    status = 413


class UnsupportedImage(RecognizerError):
    status = 415


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


MAX_ECHOED_CHARACTERS = 100


def shortened(text: str, *, limit: int = MAX_ECHOED_CHARACTERS) -> str:
    """Client-supplied text for a message, cut to `limit` characters: `abc…` (1,234 characters)."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def echoed(value: str, *, limit: int = MAX_ECHOED_CHARACTERS) -> str:
    """A value the client sent, quoted for a message (`'alexnet'`), cut to `limit` characters."""
    return repr(value) if len(value) <= limit else f"{value[:limit]!r}… ({len(value):,} characters)"


class NotExplainable(RecognizerError):
    """The model has no convolutional feature map for Grad-CAM to weigh."""

    status = 400
