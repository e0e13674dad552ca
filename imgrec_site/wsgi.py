"""WSGI entry point for gunicorn and runserver.

With IMGREC_PRELOAD=true the server starts loading every model in a background thread here, so
only a serving process loads models: `migrate`, `check` and other commands never do.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imgrec_site.settings")

application = get_wsgi_application()

if settings.IMGREC_PRELOAD:
    from recognizer import serving

    serving.get_registry().preload_in_background()
