"""Errors of custom models, each with its HTTP status (answered by ops/responses.py)."""

from __future__ import annotations

from recognizer.inference.errors import RecognizerError


class TrainingSetRefused(RecognizerError):
    """The photos cannot make a training set (too few, mixed up, not photos): nothing is stored."""

    status = 400


class TooManyPhotos(RecognizerError):
    """More classes or photos than the server's limits (IMGREC_CUSTOM_MAX_CLASSES, IMGREC_CUSTOM_MAX_PHOTOS)."""

    status = 413


class ModelNameTaken(RecognizerError):
    """A catalogue model's name, another custom model's (in any case), or one the API reserves."""

    status = 409


class CustomModelNotFound(RecognizerError):
    """No such model, or one the requester does not own (the same answer: its existence is not revealed)."""

    status = 404


class NotRestartable(RecognizerError):
    """Training again needs the stored photos, which a ready model no longer keeps."""

    status = 409
