"""WSGI entry point for gunicorn and runserver.

With IMGREC_PRELOAD=true the server starts loading every model in a background thread here, so
only a serving process loads models: `migrate`, `check` and other commands never do.

Serving signs sessions and CSRF tokens, so it refuses to start without a secret key (commands, which
sign nothing, run without one: see SECRET_KEY in settings.py).
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imgrec_site.settings")


def require_secret_key() -> None:
    try:
        _ = settings.SECRET_KEY  # Django raises on an empty key only when it is read
    except ImproperlyConfigured:
        raise ImproperlyConfigured(
            "Expected DJANGO_SECRET_KEY, or a key in "
            f"{settings.SECRET_KEY_FILE}, to serve with DJANGO_DEBUG=false. Received neither; set "
            "DJANGO_SECRET_KEY to a long random string (`make run` creates var/secret_key)"
        ) from None


require_secret_key()
application = get_wsgi_application()

if settings.IMGREC_PRELOAD:
    from recognizer import serving

    serving.get_registry().preload_in_background()
