"""Settings for the "original way" server: imgrec's settings plus one bench-only URL."""

from __future__ import annotations

from imgrec_site.settings import *  # noqa: F403

ROOT_URLCONF = "bench.original_urls"
