"""Typed readers for settings that come from the environment. Each fails loudly on a bad value."""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = ("True", "true", "1")
_FALSE = ("", "False", "false", "0")


def envbool(name: str, default: str) -> bool:
    value = os.getenv(name, default)
    if value not in _TRUE + _FALSE:
        raise ImproperlyConfigured(f"Unexpected value {name}={value!r}; use true or false")
    return value in _TRUE


def envint(name: str, default: str, *, minimum: int = 0) -> int:
    value = os.getenv(name, default)
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"Unexpected value {name}={value!r}; use a whole number") from None
    if number < minimum:
        raise ImproperlyConfigured(f"Unexpected value {name}={value!r}; use a number >= {minimum}")
    return number


def envfloat(name: str, default: str, *, minimum: float = 0.0) -> float:
    value = os.getenv(name, default)
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"Unexpected value {name}={value!r}; use a number") from None
    if not number >= minimum:
        raise ImproperlyConfigured(f"Unexpected value {name}={value!r}; use a number >= {minimum}")
    return number


def envlist(name: str, default: str) -> list[str]:
    value = os.getenv(name, default)
    return [item.strip() for item in value.split(",") if item.strip()]


def envchoice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.getenv(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"Unexpected value {name}={value!r}; use one of {', '.join(choices)}")
    return value


def envcache(name: str, default: str) -> dict[str, dict[str, str]]:
    """A CACHES setting from a URL: locmem://, redis://host:6379/0 or memcached://host:11211."""
    value = os.getenv(name, default)
    scheme, _, rest = value.partition("://")
    if scheme == "locmem":
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": rest or "imgrec"}}
    if scheme in ("redis", "rediss") and rest:
        return {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": value}}
    if scheme == "memcached" and rest:
        return {"default": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache", "LOCATION": rest}}
    raise ImproperlyConfigured(
        f"Unexpected value {name}={value!r}; use locmem://, redis://host:6379/0 or memcached://host:11211"
    )
