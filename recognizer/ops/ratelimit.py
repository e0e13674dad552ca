"""A per-client rate limit: `@rate_limit("classify")`.

Fixed windows: each client IP may make IMGREC_RATE_LIMIT requests (for example "60/minute") per
window on a scope; the next one is answered 429 with `Retry-After` (seconds to the window's end).
The page and the API use the same scope, so a client's budget is one whatever the door.

Where the counters live decides whether the limit holds (docs/operations.md, "Rate limit"):
- the default cache is Redis (DJANGO_CACHE_URL=redis://...): one atomic INCR + EXPIRE per request on
  that server, shared by every process and machine and kept across restarts; Redis never evicts a
  key with a TTL before it expires unless it runs out of memory under an eviction policy;
- otherwise (locmem, the embedded default): a dict of this process's current windows, never culled
  (Django's locmem cache holds 300 entries, so a client got a fresh budget once 300 others were seen);
  a window's counters are dropped when it is over, so memory follows the clients of one window;
- Memcached: the cache's own add/incr, which may evict under memory pressure.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
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
    key = f"imgrec:ratelimit:{scope}:{client[:MAX_CLIENT_CHARS]}:{window}"
    if isinstance(_default_cache(), RedisCache):
        count = _redis_count(key, period_s)
    elif isinstance(_default_cache(), LocMemCache):
        count = _LOCAL_COUNTERS.count(key, window=(period_s, window))
    else:
        count = _cache_count(key, period_s)
    if count <= allowed:
        return None
    return max(1, math.ceil((window + 1) * period_s - now))


# An IPv6 address is at most 45 characters; anything longer in a forwarded header is not an address.
MAX_CLIENT_CHARS = 64


def _default_cache() -> BaseCache:
    return caches["default"]


def _redis_count(key: str, period_s: int) -> int:
    """INCR and (on the first hit) EXPIRE in one round trip: atomic, shared, no read-modify-write race."""
    redis_cache = _default_cache()
    full_key = redis_cache.make_and_validate_key(key)
    client = redis_cache._cache.get_client(full_key, write=True)
    pipeline = client.pipeline(transaction=True)
    pipeline.incr(full_key)
    pipeline.expire(full_key, period_s + 1, nx=True)
    count, _ = pipeline.execute()
    return int(count)


def _cache_count(key: str, period_s: int) -> int:
    cache.add(key, 0, timeout=period_s + 1)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr: this request opens the window
        cache.set(key, 1, timeout=period_s + 1)
        return 1


class WindowCounters:
    """This process's counters, kept for as long as their window runs; never evicted before."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[tuple[int, int], dict[str, int]] = {}

    def count(self, key: str, *, window: tuple[int, int]) -> int:
        """One more request on `key` in `window` (period, window number); the new count."""
        period_s, number = window
        with self._lock:
            for old in [w for w in self._windows if w[0] == period_s and w[1] < number]:
                del self._windows[old]
            counters = self._windows.setdefault(window, {})
            counters[key] = counters.get(key, 0) + 1
            return counters[key]

    def clear(self) -> None:
        with self._lock:
            self._windows.clear()


_LOCAL_COUNTERS = WindowCounters()


def clear_local_counters() -> None:
    """Forget this process's counters (tests; the Redis counters are cleared with the cache)."""
    _LOCAL_COUNTERS.clear()


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
