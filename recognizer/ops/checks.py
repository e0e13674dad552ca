"""Start-up checks of the recognizer's settings (run by `manage.py check` and every server start)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register

from recognizer.inference.catalog import SPECS_BY_NAME


@register()
def check_enabled_models(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors = [
        Error(
            f"Unknown model in IMGREC_MODELS. Expected one of {', '.join(SPECS_BY_NAME)}. Received: {name!r}",
            id="recognizer.E001",
        )
        for name in settings.IMGREC_MODELS
        if name not in SPECS_BY_NAME
    ]
    if not settings.IMGREC_MODELS:
        errors.append(Error("IMGREC_MODELS is empty; enable at least one model", id="recognizer.E002"))
    return errors


@register()
def check_rate_limit(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    from django.core.exceptions import ImproperlyConfigured

    from recognizer.ops.ratelimit import parse_rate

    if not settings.IMGREC_RATE_LIMIT:
        return []
    try:
        parse_rate(settings.IMGREC_RATE_LIMIT)
    except ImproperlyConfigured as error:
        return [Error(str(error), id="recognizer.E003")]
    return []
