"""A production media worker without an OpenAI key refuses to start rather than run the demo."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

from media_workers.devtools.stack import ROOT


def start_worker(extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # Only PATH and HOME from this environment: DEBUG and the test settings must not leak in.
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "DJANGO_SETTINGS_MODULE": "translator_site.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": "sqlite:///:memory:",
        # Nothing answers here: a worker that got past the check would fail differently.
        "REDIS_URL": "redis://127.0.0.1:1/0",
        **extra,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "media_worker"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_refuses_to_start_without_a_key_when_debug_is_off_by_default() -> None:
    result = start_worker({})
    assert result.returncode != 0
    assert "OPENAI_API_KEY is not set" in result.stderr
    assert "demo mode (the local stand-in translator) runs only with DEBUG=1 or DEMO_MODE=1" in result.stderr


def test_it_refuses_with_debug_off_explicitly() -> None:
    result = start_worker({"DEBUG": "0", "OPENAI_API_KEY": ""})
    assert result.returncode != 0
    assert "OPENAI_API_KEY is not set" in result.stderr


def test_it_refuses_a_packet_time_opus_does_not_send() -> None:
    result = start_worker({"OPENAI_API_KEY": "sk-test", "MEDIA_PTIME_MS": "30"})
    assert result.returncode != 0
    assert "MEDIA_PTIME_MS must be 20, 40 or 60, not 30" in result.stderr


def test_it_refuses_a_negative_reorder_window() -> None:
    result = start_worker({"OPENAI_API_KEY": "sk-test", "MEDIA_REORDER_FRAMES": "-1"})
    assert result.returncode != 0
    assert "MEDIA_REORDER_FRAMES must be 0 or more, not -1" in result.stderr
