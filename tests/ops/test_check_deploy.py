"""`manage.py check --deploy` passes, without warnings, with a production environment."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest

from media_workers.devtools.stack import ROOT

PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "translator_site.settings",
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "PUBLIC_BASE_URL": "https://translate.example.org",
    "ALLOWED_HOSTS": "translate.example.org",
    "DATABASE_URL": "postgres://translate:password@127.0.0.1:5432/translate",
    "LOG_FORMAT": "json",
    "OPENAI_API_KEY": "sk-" + "x" * 40,
    "GLOBAL_MONTHLY_SPEND_LIMIT": "200",
    "TRUSTED_PROXY_HOPS": "1",
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


def test_it_refuses_to_start_without_a_secret_key() -> None:
    result = run_check({"SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize(
    ("bad", "complaint"),
    [
        ({"TRANSCRIPT_PAUSE_SECONDS": "0"}, "TRANSCRIPT_PAUSE_SECONDS must be positive"),
        ({"TRANSCRIPT_RETENTION_DAYS": "0"}, "TRANSCRIPT_RETENTION_DAYS must be 1 or more"),
        ({"TRANSCRIPT_RETENTION_DAYS": "ninety"}, "TRANSCRIPT_RETENTION_DAYS"),
    ],
)
def test_it_refuses_to_start_with_a_bad_transcript_setting(bad: dict[str, str], complaint: str) -> None:
    result = run_check(bad)
    assert result.returncode != 0
    assert complaint in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("unsafe", "warning"),
    [
        ({"SIGNUP_MODE": "open"}, "translate.W001"),
        ({"ACCOUNT_EMAIL_VERIFICATION": "optional"}, "translate.W002"),
        ({"GLOBAL_MONTHLY_SPEND_LIMIT": ""}, "translate.W003"),
        ({"OPENAI_API_KEY": "", "DEMO_MODE": "1"}, "translate.W004"),
        ({"OPENAI_API_KEY": ""}, "translate.W005"),
        ({"TRUSTED_PROXY_HOPS": "0"}, "translate.W006"),
        # Every interface's address (docker0, the VPC's) would be advertised to every browser.
        ({"ICE_HOST_ADDRESSES": ""}, "translate.W007"),
    ],
)
def test_it_warns_about_each_unsafe_production_setting(unsafe: dict[str, str], warning: str) -> None:
    result = run_check(unsafe)
    assert result.returncode != 0
    assert warning in result.stderr, result.stderr


def test_it_defaults_to_invite_only_sign_up_and_verified_email() -> None:
    """Neither is named above, and DEBUG unset is off: the defaults are the production ones."""
    assert "SIGNUP_MODE" not in PRODUCTION and "ACCOUNT_EMAIL_VERIFICATION" not in PRODUCTION
    result = run_check({"DEBUG": ""})
    assert result.returncode == 0, result.stdout + result.stderr
