"""Transcripts of a call whose room keeps them: each speaker's words and their translations.

The translation service sends append-only text fragments with no utterance boundaries, so an
utterance here is a speaker's words up to a pause: it ends once none of the speaker's
translations has brought new text for `TRANSCRIPT_PAUSE_SECONDS`. Its original words come from
one of the speaker's sessions (each transcribes the same input), its translations from each.
Finished utterances go to the web tier through Celery, off the event loop, never to the database.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from media_workers.runtime import outbox
from media_workers.shared.contract import TRANSCRIPT_TASK, UtteranceReport, UtteranceText

logger = logging.getLogger(__name__)

# A speaker with a turn-based listener (runtime/interpreter.py) is answered only after each
# turn ends: their utterance waits this much longer, so the answer joins the words it translates.
TURN_GRACE_SECONDS = 4.0


@dataclass
class _Open:
    """An utterance still being said."""

    speaker_name: str
    source_language: str
    started_at: float
    last_at: float
    # Some of the translations come only after the speaker's turn (a turn-based listener's).
    awaits_turns: bool = False
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # The session language whose input transcript is the original.
    original_from: str | None = None
    original: str = ""
    translations: dict[str, str] = field(default_factory=dict)

    def report(self, room_id: str, speaker_id: str) -> UtteranceReport:
        return UtteranceReport(
            utterance_id=self.id,
            room_id=room_id,
            speaker_id=speaker_id,
            speaker_name=self.speaker_name,
            source_language=self.source_language,
            started_at=self.started_at,
            ended_at=self.last_at,
            original=self.original,
            translations=[
                UtteranceText(language, text) for language, text in sorted(self.translations.items())
            ],
        )


class Transcriber:
    """Collects one call's utterances, speaker by speaker, and hands each finished one to `send`."""

    def __init__(
        self,
        *,
        room_id: str,
        send: Callable[[UtteranceReport], None],
        pause: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.room_id = room_id
        self._send = send
        self.pause = settings.TRANSCRIPT_PAUSE_SECONDS if pause is None else pause
        self._clock = clock
        self._open: dict[str, _Open] = {}

    def add(
        self,
        *,
        speaker_id: str,
        speaker_name: str,
        source_language: str,
        language: str,
        kind: str,
        text: str,
        turn_based: bool = False,
    ) -> None:
        """A fragment of one of the speaker's sessions: `original` words or their `translation`
        (`turn_based`: some of the speaker's listeners hear them only after each turn)."""
        now = self._clock()
        utterance = self._open.get(speaker_id)
        if utterance is None or self._paused(utterance, now):
            if utterance is not None:
                self._finish(speaker_id)
            utterance = self._open[speaker_id] = _Open(
                speaker_name=speaker_name, source_language=source_language, started_at=now, last_at=now
            )
        utterance.last_at = now
        utterance.awaits_turns = utterance.awaits_turns or turn_based
        if kind == "translation":
            utterance.translations[language] = utterance.translations.get(language, "") + text
        elif utterance.original_from in (None, language):
            utterance.original_from = language
            utterance.original += text

    def finish_paused(self) -> None:
        """Send every utterance whose speaker has paused."""
        now = self._clock()
        for speaker_id in [s for s, u in self._open.items() if self._paused(u, now)]:
            self._finish(speaker_id)

    def _paused(self, utterance: _Open, now: float) -> bool:
        return now - utterance.last_at > self.pause + (TURN_GRACE_SECONDS if utterance.awaits_turns else 0)

    def finish_all(self) -> None:
        """Send every utterance still open (the call ends)."""
        for speaker_id in list(self._open):
            self._finish(speaker_id)

    def drop_all(self) -> None:
        """Forget what is still open (the owner stopped keeping transcripts)."""
        self._open.clear()

    def _finish(self, speaker_id: str) -> None:
        utterance = self._open.pop(speaker_id)
        if utterance.original.strip() or any(t.strip() for t in utterance.translations.values()):
            self._send(utterance.report(self.room_id, speaker_id))

    async def run(self) -> None:
        """Finish utterances as their speakers pause, until cancelled."""
        while True:
            await asyncio.sleep(self.pause / 2)
            self.finish_paused()


class TranscriptSender(outbox.CeleryOutbox):
    """Delivers finished utterances to Celery in order, from one task, off the audio path."""

    def __init__(self, *, worker_id: str, send: Callable[[dict[str, Any]], None] | None = None) -> None:
        super().__init__(task=TRANSCRIPT_TASK, what="utterance", worker_id=worker_id, send=send)

    def put(self, report: UtteranceReport) -> None:  # type: ignore[override]
        super().put(report.to_dict())
