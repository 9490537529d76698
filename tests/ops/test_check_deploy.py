"""`manage.py check --deploy` passes, without warnings, with a production environment."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

from media_workers.stack import ROOT

PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "translator_site.settings",
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "PUBLIC_BASE_URL": "https://translate.example.org",
    "ALLOWED_HOSTS": "translate.example.org",
    "DATABASE_URL": "postgres://translate:password@127.0.0.1:5432/translate",
    "LOG_FORMAT": "json",
    "ICE_HOST_ADDRESSES": "203.0.113.10",
}


def run_check(extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # Only PATH and HOME from this environment: the test settings' variables must not leak in.
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", ""), **PRODUCTION, **extra}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_passes_the_deploy_checks_in_production() -> None:
    result = run_check({})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_it_fails_the_deploy_checks_with_a_weak_setting() -> None:
    result = run_check({"SESSION_COOKIE_SECURE": "0"})
    assert result.returncode != 0
    assert "security.W012" in result.stderr


def test_it_warns_when_the_media_workers_would_advertise_every_interface() -> None:
    result = run_check({"ICE_HOST_ADDRESSES": ""})
    assert result.returncode != 0
    assert "media_workers.W001" in result.stderr
    assert "ICE_HOST_ADDRESSES is empty" in result.stderr


def test_it_refuses_to_start_without_a_secret_key() -> None:
    result = run_check({"SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
