"""Errors of batch jobs, each with its HTTP status (answered by ops/responses.py)."""

from __future__ import annotations

from recognizer.inference.errors import RecognizerError


class JobNotFound(RecognizerError):
    status = 404
