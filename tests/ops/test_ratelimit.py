"""The per-client rate limit."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
import redis
from django.core.cache import caches
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client

from recognizer.ops.ratelimit import clear_local_counters, hit, parse_rate
from tests.hostile_corpus import response_message


def test_the_rate_limit_answers_429_with_retry_after_per_client(client: Client, settings) -> None:  # noqa: ANN001
    settings.IMGREC_RATE_LIMIT = "2/minute"
    for _ in range(2):
        assert client.post("/", {"model": "resnet50"}).status_code == 400  # no file: counted, cheap
    limited = client.post("/", {"model": "resnet50"})
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert "Expected at most 2/minute requests per client" in response_message(limited)
    assert client.get("/").status_code == 200  # reading the form is not limited
    other = Client(REMOTE_ADDR="10.0.0.2")
    assert other.post("/", {"model": "resnet50"}).status_code == 400


def test_the_rate_limit_can_key_on_a_trusted_proxy_header(client: Client, settings) -> None:  # noqa: ANN001
    settings.IMGREC_RATE_LIMIT = "1/hour"
    settings.IMGREC_CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    assert client.post("/", {}, HTTP_X_FORWARDED_FOR="spoofed, 203.0.113.7").status_code == 400
    assert client.post("/", {}, HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 429
    assert client.post("/", {}, HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 400


def test_a_bad_rate_limit_setting_fails_the_system_check(settings) -> None:  # noqa: ANN001
    settings.IMGREC_RATE_LIMIT = "lots"
    with pytest.raises(SystemCheckError, match=r"recognizer.E003.*IMGREC_RATE_LIMIT='lots'; use N/period"):
        call_command("check")


REDIS_URL = "redis://127.0.0.1:6379/9"  # this branch's test database on the local Redis


@pytest.fixture
def redis_cache(settings) -> Iterator[None]:  # noqa: ANN001
    """The default cache on the real Redis (DB 9), flushed before and after."""
    settings.CACHES = envcache_from(REDIS_URL)
    redis.Redis.from_url(REDIS_URL).flushdb()
    yield
    redis.Redis.from_url(REDIS_URL).flushdb()


def envcache_from(url: str) -> dict[str, dict[str, str]]:
    return {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}


def ten_thousand_other_clients() -> None:
    allowed, period_s = parse_rate("2/day")
    for i in range(10_000):
        hit("classify", f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", allowed=allowed, period_s=period_s)


def test_a_limited_client_stays_limited_after_ten_thousand_other_clients_in_process_memory(
    client: Client,
    settings,  # noqa: ANN001
) -> None:
    assert settings.CACHES["default"]["BACKEND"].endswith("LocMemCache")
    settings.IMGREC_RATE_LIMIT = "2/day"
    for _ in range(2):
        assert client.post("/", {}).status_code == 400
    ten_thousand_other_clients()
    assert client.post("/", {}).status_code == 429


def test_on_redis_a_limited_client_stays_limited_after_ten_thousand_others_and_a_restart(
    client: Client,
    settings,  # noqa: ANN001
    redis_cache: None,
) -> None:
    settings.IMGREC_RATE_LIMIT = "2/day"
    for _ in range(2):
        assert client.post("/", {}).status_code == 400
    ten_thousand_other_clients()
    assert client.post("/", {}).status_code == 429
    clear_local_counters()  # what a restarted worker process has in memory: nothing
    caches.close_all()
    assert client.post("/", {}).status_code == 429
    keys = redis.Redis.from_url(REDIS_URL).keys("*ratelimit:classify:127.0.0.1:*")
    assert len(keys) == 1 and 0 < redis.Redis.from_url(REDIS_URL).ttl(keys[0]) <= 86401


def test_on_redis_the_limit_is_shared_with_another_process(client: Client, settings, redis_cache: None) -> None:  # noqa: ANN001
    settings.IMGREC_RATE_LIMIT = "2/day"
    other_process = (
        "import django; django.setup()\n"
        "from recognizer.ops.ratelimit import hit\n"
        "print([hit('classify', '127.0.0.1', allowed=2, period_s=86400) for _ in range(2)])\n"
    )
    env = {**os.environ, "DJANGO_CACHE_URL": REDIS_URL, "DJANGO_SETTINGS_MODULE": "imgrec_site.settings"}
    ran = subprocess.run([sys.executable, "-c", other_process], env=env, capture_output=True, text=True, timeout=120)
    assert ran.stdout.strip() == "[None, None]", ran.stderr
    assert client.post("/", {}).status_code == 429
    assert Client(REMOTE_ADDR="10.9.9.9").post("/", {}).status_code == 400
