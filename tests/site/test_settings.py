"""Production settings: check --deploy and the secret key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]


PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "k3Jx9-wq_fP2mZr8LtV0aYbN6cH4sE1uG7oD5iQpRlTvWzXyMnBe3jKg9hF2dSa",
    "DJANGO_ALLOWED_HOSTS": "imgrec.example.org",
    "DJANGO_HTTPS": "true",
    "DJANGO_HSTS_PRELOAD": "true",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://imgrec.example.org",
}


def check_deploy(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    clean = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", **env}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT_ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_the_documented_production_environment(tmp_path: Path) -> None:
    done = check_deploy(PRODUCTION_ENV, tmp_path)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "no issues" in done.stdout


def test_check_deploy_fails_without_https(tmp_path: Path) -> None:
    done = check_deploy({**PRODUCTION_ENV, "DJANGO_HTTPS": "false"}, tmp_path)
    assert done.returncode != 0
    assert "security.W004" in done.stderr and "security.W012" in done.stderr


def test_production_start_without_secret_key_is_a_clear_error(tmp_path: Path) -> None:
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != "DJANGO_SECRET_KEY"}
    done = check_deploy(env, tmp_path)
    assert done.returncode != 0
    assert "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is false" in done.stderr


@pytest.mark.parametrize(
    ("cache_url", "session_engine"),
    [
        ("locmem://", "django.contrib.sessions.backends.db"),  # `make run`: the embedded default
        ("redis://127.0.0.1:6379/10", "django.contrib.sessions.backends.cached_db"),  # `make cluster`
    ],
)
def test_sessions_live_in_redis_and_the_database_when_the_cache_is_redis(
    tmp_path: Path, cache_url: str, session_engine: str
) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SECRET_KEY": "only-for-tests",
        "DJANGO_CACHE_URL": cache_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "imgrec_site.settings",
    }
    done = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.SESSION_ENGINE)"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == session_engine
