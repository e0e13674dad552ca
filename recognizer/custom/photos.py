"""A labelled training photo: what the web side checks and stores, and what training reads. Apart from
training.py so that the web side handles photos without importing TensorFlow."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class LabelledPhoto:
    label: str
    name: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()
