"""A per-client rate limit on Django's cache framework: `@rate_limit("classify")`.

Fixed windows: each client IP may make IMGREC_RATE_LIMIT requests (for example "60/minute") per
window on a scope; the next one is answered 429 with `Retry-After` (seconds to the window's end).
The counters live in the default cache, so several processes share them only when that cache is
shared (Redis or Memcached; see docs/operations.md). The page and the API use the same scope, so a
client's budget is one whatever the door.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse

from recognizer.inference.errors import RateLimited
from recognizer.ops.responses import error_response

View = Callable[..., HttpResponse]

PERIODS_S = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def parse_rate(value: str) -> tuple[int, int]:
    """'60/minute' -> (60, 60): requests allowed per period, and the period in seconds."""
    count, _, period = value.partition("/")
    if not count.strip().isdigit() or int(count) < 1 or period.strip() not in PERIODS_S:
        raise ImproperlyConfigured(
            f"Unexpected value IMGREC_RATE_LIMIT={value!r}; use N/period with N >= 1 and a period of "
            f"{', '.join(PERIODS_S)} (for example 60/minute)"
        )
    return int(count), PERIODS_S[period.strip()]


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or the header a trusted reverse proxy sets (IMGREC_CLIENT_IP_HEADER)."""
    header = settings.IMGREC_CLIENT_IP_HEADER
    if header:
        forwarded = request.META.get(header, "")
        # X-Forwarded-For lists client, proxy1, ...; the proxy we trust appended the last hop.
        if forwarded:
            return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "unknown")


def hit(scope: str, client: str, *, allowed: int, period_s: int, now: float | None = None) -> int | None:
    """Count one request; None when allowed, else the seconds until the client may try again."""
    now = time.time() if now is None else now
    window = int(now // period_s)
    key = f"imgrec:ratelimit:{scope}:{client}:{window}"
    cache.add(key, 0, timeout=period_s + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr: this request opens the window
        cache.set(key, 1, timeout=period_s + 1)
        count = 1
    if count <= allowed:
        return None
    return max(1, math.ceil((window + 1) * period_s - now))


def rate_limit(scope: str, *, methods: Iterable[str] = ("POST",)) -> Callable[[View], View]:
    """Limit `methods` of a view to IMGREC_RATE_LIMIT per client IP: 429 page, or JSON under /api/."""
    limited_methods = frozenset(methods)

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            if request.method in limited_methods and settings.IMGREC_RATE_LIMIT:
                allowed, period_s = parse_rate(settings.IMGREC_RATE_LIMIT)
                retry_after_s = hit(scope, client_ip(request), allowed=allowed, period_s=period_s)
                if retry_after_s is not None:
                    error = RateLimited(
                        f"Expected at most {settings.IMGREC_RATE_LIMIT} requests per client. "
                        f"Received more; try again in {retry_after_s} s",
                        retry_after_s=retry_after_s,
                    )
                    return error_response(request, error)
            return view(request, *args, **kwargs)

        return wrapped

    return decorate
