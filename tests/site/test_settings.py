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


KEY_FILE = PROJECT_ROOT / "var" / "secret_key"
no_key_file = pytest.mark.skipif(KEY_FILE.exists(), reason="var/secret_key exists here (make run made it)")


def run_without_key(
    args: list[str], tmp_path: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", **(env or {})}
    return subprocess.run(args, cwd=PROJECT_ROOT, env=clean, capture_output=True, text=True, timeout=120)


@no_key_file
def test_check_deploy_without_secret_key_warns_about_it(tmp_path: Path) -> None:
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != "DJANGO_SECRET_KEY"}
    done = check_deploy(env, tmp_path)
    assert done.returncode != 0
    assert "security.W009" in done.stderr


@no_key_file
def test_commands_run_without_secret_key(tmp_path: Path) -> None:
    done = run_without_key([sys.executable, "manage.py", "check"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout


@no_key_file
def test_serving_without_secret_key_refuses_to_start_naming_both_sources(tmp_path: Path) -> None:
    done = run_without_key([sys.executable, "-c", "import imgrec_site.wsgi"], tmp_path)
    assert done.returncode != 0
    assert "Expected DJANGO_SECRET_KEY, or a key in" in done.stderr
    assert str(KEY_FILE) in done.stderr


@no_key_file
def test_gunicorn_without_secret_key_exits_at_start(tmp_path: Path) -> None:
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    args = [gunicorn, "imgrec_site.wsgi:application", "--bind", "127.0.0.1:18411", "--workers", "1"]
    done = run_without_key(args, tmp_path)
    assert done.returncode != 0
    assert "Expected DJANGO_SECRET_KEY, or a key in" in done.stderr


def test_debug_serves_without_secret_key(tmp_path: Path) -> None:
    done = run_without_key([sys.executable, "-c", "import imgrec_site.wsgi"], tmp_path, {"DJANGO_DEBUG": "true"})
    assert done.returncode == 0, done.stderr


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


def test_an_unknown_precision_stops_the_start_naming_the_variable(tmp_path: Path) -> None:
    done = check_deploy({"IMGREC_PRECISION": "bf16"}, tmp_path)
    assert done.returncode != 0
    assert "IMGREC_PRECISION='bf16'" in done.stderr and "fp32, fast" in done.stderr
