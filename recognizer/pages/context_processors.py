from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def weights_banner(request: HttpRequest) -> dict[str, bool]:
    """Tell every page when ResNet50/VGG19 run with random weights, so nobody trusts their output."""
    return {"random_weights": settings.IMGREC_WEIGHTS == "random"}
