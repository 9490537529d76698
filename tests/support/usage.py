"""Usage reports as a media worker sends them, and recording them as the Celery task does."""

from __future__ import annotations

import time
import uuid
from typing import Any

from media_workers.shared.contract import UsageReport, from_dict
from rooms.models import Membership, Room, TranslationUsage
from rooms.usage import translation_usage_record


def make_report(room: Room, speaker: Membership | None = None, **changes: Any) -> dict[str, Any]:
    """A report as media_workers/runtime/usage.py sends it: running totals of one session."""
    started = time.time() - 60
    report = {
        "session_id": uuid.uuid4().hex,
        "payer_id": room.owner_id,
        "room_id": room.public_id,
        "speaker_id": str(speaker.pk) if speaker else "0",
        "language": "es",
        "model": "gpt-realtime-translate",
        "worker_id": "worker-test",
        "started_at": started,
        "ended_at": None,
        "first_audio_at": started + 0.5,
        "seconds_sent": 30.0,
        "seconds_received": 25.0,
        "errors": 0,
        "reconnects": 0,
        "final": False,
    }
    report.update(changes)
    return report


def record(report: dict[str, Any]) -> TranslationUsage | None:
    return translation_usage_record(report=from_dict(UsageReport, report))
