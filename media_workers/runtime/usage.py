"""Usage reports from the worker to the web tier, through Celery (never the database directly).

Every report carries a session's running totals, not increments, keyed by the session's
id (one per calendar month the session runs in): the receiving task stores the latest
totals, so a repeated or late report never double-counts, and a worker that dies loses at
most one reporting interval. The payer, fixed when the session started, travels in every
report: what happens to the room afterwards does not change who is charged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings

from media_workers.runtime import outbox
from media_workers.runtime.translation import TranslationSession, Usage
from media_workers.shared.contract import USAGE_TASK, UsageReport


def usage_payload(
    session: TranslationSession, usage: Usage, *, worker_id: str, final: bool
) -> dict[str, Any]:
    return UsageReport(
        session_id=usage.id,
        payer_id=session.payer_id,
        room_id=session.room_id,
        speaker_id=session.speaker_id,
        language=session.language,
        model=session.model,
        worker_id=worker_id,
        started_at=usage.started_at,
        ended_at=usage.ended_at,
        first_audio_at=usage.first_audio_at,
        seconds_sent=round(usage.seconds_sent, 3),
        seconds_received=round(usage.seconds_received, 3),
        errors=usage.errors,
        reconnects=usage.reconnects,
        final=final,
        tokens=dict(usage.tokens),
    ).to_dict()


def send_to_celery(payload: dict[str, Any]) -> None:
    outbox.send_to_celery(USAGE_TASK, payload)


class UsageReporter:
    """Sends usage reports off the event loop, periodically and when a session ends."""

    def __init__(
        self,
        *,
        worker_id: str,
        sessions: Callable[[], Iterable[TranslationSession]],
        send: Callable[[dict[str, Any]], None] = send_to_celery,
    ) -> None:
        self.worker_id = worker_id
        self._sessions = sessions
        self._outbox = outbox.CeleryOutbox(
            task=USAGE_TASK, what="usage report", worker_id=worker_id, send=send
        )
        self.flush = self._outbox.flush

    def session_ended(self, session: TranslationSession, usage: Usage) -> None:
        """`usage` (the session's last part, or the part of a month that ended) is complete."""
        self._outbox.put(usage_payload(session, usage, worker_id=self.worker_id, final=True))

    async def run(self) -> None:
        """Report every live session each interval, and deliver queued reports in order."""
        ticker = asyncio.create_task(self._tick())
        try:
            await self._outbox.run()
        finally:
            ticker.cancel()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(settings.USAGE_REPORT_SECONDS)
            for session in list(self._sessions()):
                self._outbox.put(usage_payload(session, session.usage, worker_id=self.worker_id, final=False))
