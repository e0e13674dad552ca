"""Production settings: check --deploy and the secret key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
