"""A room's live call on one worker: who is in it, which translations run, who hears what.

For every speaker S and every distinct listener language L among the others (other than
S's own language) there is exactly one translation session S -> L. Its output goes to the
listeners of language L, never back to S. Listeners who share S's language hear S's voice
directly; everyone else hears it quietly under the translation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import numpy as np
from django.conf import settings
from openai import AsyncOpenAI

from .peer import Participant, ParticipantInfo
from .translation import TranslationSession, append_message

logger = logging.getLogger(__name__)

SessionKey = tuple[str, str]

# Peak level (int16) above which a chunk counts as speech for the translation's stall watchdog.
SPEECH_LEVEL = 1000


class Outbox(Protocol):
    def send(self, channel: str, message: dict[str, Any]) -> None: ...

    def group_send(self, group: str, message: dict[str, Any]) -> None: ...


def room_group(room_id: str) -> str:
    """The channel-layer group of everyone on the room page."""
    return f"room.{room_id}"


class Call:
    """The participants of one room connected to this worker, and their translations."""

    def __init__(
        self,
        *,
        room_id: str,
        outbox: Outbox,
        client: AsyncOpenAI,
        on_empty: Callable[[Call], None],
        on_session_end: Callable[[TranslationSession], None] | None = None,
    ) -> None:
        self.room_id = room_id
        self.outbox = outbox
        self.client = client
        self.participants: dict[str, Participant] = {}
        self.sessions: dict[SessionKey, TranslationSession] = {}
        self._on_empty = on_empty
        self._on_session_end = on_session_end
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lock = asyncio.Lock()
        self._joining = 0
        # Why translation is off for this call (the owner's quota ran out), or None.
        self.translation_blocked: str | None = None

    @property
    def is_empty(self) -> bool:
        return not self.participants and not self._joining

    def __repr__(self) -> str:
        return (
            f"<Call room={self.room_id} participants={len(self.participants)} sessions={len(self.sessions)}>"
        )

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("room=%s task %s failed", self.room_id, task.get_name(), exc_info=task.exception())

    # --- Signalling --------------------------------------------------------------------------

    async def join(self, *, info: ParticipantInfo, reply_channel: str, sdp: str, sdp_type: str) -> None:
        """Connect a participant (replacing an earlier connection of theirs) and answer them."""
        self._joining += 1
        try:
            await self._join(info=info, reply_channel=reply_channel, sdp=sdp, sdp_type=sdp_type)
        finally:
            self._joining -= 1
            if self.is_empty:
                self._on_empty(self)

    async def _join(self, *, info: ParticipantInfo, reply_channel: str, sdp: str, sdp_type: str) -> None:
        participant = Participant(
            room_id=self.room_id,
            info=info,
            reply_channel=reply_channel,
            on_audio=self.on_speaker_audio,
            on_gone=self._participant_gone,
        )
        try:
            answer = await participant.answer(sdp=sdp, sdp_type=sdp_type)
        except Exception as exc:
            logger.warning("room=%s participant=%s: bad offer: %s", self.room_id, info.id, exc)
            await participant.close()
            self.outbox.send(
                reply_channel,
                {
                    "type": "worker.error",
                    "code": "bad_offer",
                    "message": "The call could not use that offer.",
                },
            )
            return
        async with self._lock:
            previous = self.participants.get(info.id)
            self.participants[info.id] = participant
            if previous is not None:
                for other in self.participants.values():
                    other.drop_source(f"orig:{info.id}")
                    other.drop_source(f"tr:{info.id}")
            self._reconcile()
        if previous is not None:
            if previous.reply_channel != reply_channel:
                self.outbox.send(previous.reply_channel, {"type": "worker.replaced"})
            await previous.close()
        self.outbox.send(reply_channel, {"type": "worker.answer", "sdp": answer.sdp, "sdp_type": answer.type})
        if self.translation_blocked:
            self._tell_translation_off(participant)
        logger.info(
            "room=%s participant=%s joined (%s -> hears %s)", self.room_id, info.id, info.speak, info.hear
        )

    async def add_candidate(self, participant_id: str, candidate: dict[str, Any]) -> None:
        participant = self.participants.get(participant_id)
        if participant is not None:
            await participant.add_candidate(candidate)

    async def leave(self, participant_id: str, reply_channel: str | None = None) -> None:
        async with self._lock:
            participant = self.participants.get(participant_id)
            if participant is None or (reply_channel and participant.reply_channel != reply_channel):
                return
            del self.participants[participant_id]
            for other in self.participants.values():
                other.drop_source(f"orig:{participant_id}")
                other.drop_source(f"tr:{participant_id}")
            self._reconcile()
        await participant.close()
        logger.info("room=%s participant=%s left", self.room_id, participant_id)
        if self.is_empty:
            self._on_empty(self)

    def update(self, participant_id: str, changes: dict[str, Any]) -> None:
        """Apply a participant's new settings (language, mute, volumes) without reconnecting."""
        participant = self.participants.get(participant_id)
        if participant is None:
            return
        info = participant.info
        if "hear" in changes and changes["hear"] != info.hear:
            info.hear = changes["hear"]
            # Translation already queued in the old language is no longer wanted.
            for key, buffer in participant.buffers.items():
                if key.startswith("tr:"):
                    buffer.clear()
        for field in ("muted", "background", "original_volume", "translation_volume", "name", "speak"):
            if field in changes:
                setattr(info, field, changes[field])
        self._reconcile()

    def set_translation_blocked(self, reason: str | None) -> None:
        """Stop (or allow again) every translation in this call; the call itself goes on."""
        if reason == self.translation_blocked:
            return
        self.translation_blocked = reason
        self._reconcile()
        for participant in self.participants.values():
            self._tell_translation_off(participant)

    def _tell_translation_off(self, participant: Participant) -> None:
        self.outbox.send(
            participant.reply_channel,
            {
                "type": "worker.translation",
                "speaker": None,
                "language": participant.info.hear,
                "status": "off" if self.translation_blocked else "live",
                "detail": self.translation_blocked or "",
            },
        )

    def _participant_gone(self, participant: Participant) -> None:
        if self.participants.get(participant.id) is participant:
            self.spawn(self.leave(participant.id, participant.reply_channel), name=f"leave {participant.id}")

    async def close(self) -> None:
        """End the call: flush every translation and close every peer connection."""
        participants = list(self.participants.values())
        self.participants.clear()
        sessions = list(self.sessions.values())
        self.sessions.clear()
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
        await asyncio.gather(*(p.close() for p in participants), return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()

    # --- Routing -----------------------------------------------------------------------------

    def _reconcile(self) -> None:
        """Start and stop translation sessions and rewire every listener's mix to match the roster."""
        people = list(self.participants.values())
        wanted: set[SessionKey] = {
            (speaker.id, listener.info.hear)
            for speaker in people
            for listener in people
            if listener is not speaker and listener.info.hear != speaker.info.speak
        }
        if self.translation_blocked:
            wanted = set()
        for key in [k for k in self.sessions if k not in wanted]:
            session = self.sessions.pop(key)
            self.spawn(session.close(), name=f"close {session!r}")
        for speaker_id, language in sorted(wanted - self.sessions.keys()):
            session = TranslationSession(
                client=self.client,
                room_id=self.room_id,
                speaker_id=speaker_id,
                language=language,
                listener=self,
                transcribe_input=bool(settings.OPENAI_INPUT_TRANSCRIPTION_MODEL),
                chunk_ms=settings.TRANSLATION_CHUNK_MS,
                on_usage=self._on_session_end,
            )
            self.sessions[session.key] = session
            session.start()
        for speaker in people:
            speaker.session_languages = sorted(lang for (sid, lang) in self.sessions if sid == speaker.id)
        for listener in people:
            for speaker in people:
                if speaker is listener:
                    continue
                # Untranslated (same language, or translation off): the voice itself, at full volume.
                same_language = listener.info.hear == speaker.info.speak or bool(self.translation_blocked)
                original_gain = 1.0 if same_language else listener.info.original_volume
                if original_gain > 0:
                    listener.source(f"orig:{speaker.id}", original_gain)
                else:
                    listener.drop_source(f"orig:{speaker.id}")
                if same_language:
                    listener.drop_source(f"tr:{speaker.id}")
                else:
                    listener.source(f"tr:{speaker.id}", listener.info.translation_volume)
        self.outbox.group_send(room_group(self.room_id), self.roster())

    def roster(self) -> dict[str, Any]:
        """Who is in the call and which translations run: what every room page shows."""
        return {
            "type": "call.roster",
            "participants": [p.info.public() for p in self.participants.values()],
            "sessions": [{"speaker": s, "language": lang} for (s, lang) in sorted(self.sessions)],
        }

    def on_speaker_audio(self, speaker: Participant, pcm: bytes) -> None:
        """The hot path: 20 ms of a speaker's voice (24 kHz mono PCM16) arrives."""
        if speaker.info.muted:
            # Keep the translation's clock running on silence; nobody hears the muted voice.
            pcm = bytes(len(pcm))
        else:
            samples = np.frombuffer(pcm, dtype=np.int16)
            key = f"orig:{speaker.id}"
            for listener in self.participants.values():
                buffer = listener.buffers.get(key)
                if buffer is not None:
                    buffer.push(samples)
        if not speaker.session_languages:
            return
        for chunk in speaker.chunker.push(pcm):
            message = append_message(chunk)
            samples = np.frombuffer(chunk, dtype=np.int16)
            speech = bool(samples.max() > SPEECH_LEVEL or samples.min() < -SPEECH_LEVEL)
            for language in speaker.session_languages:
                session = self.sessions.get((speaker.id, language))
                if session is not None:
                    session.feed(message, len(chunk), speech)

    def _listeners(self, session: TranslationSession) -> list[Participant]:
        return [
            p
            for p in self.participants.values()
            if p.id != session.speaker_id and p.info.hear == session.language
        ]

    # --- TranslationSession listener ---------------------------------------------------------

    def on_translated_audio(self, session: TranslationSession, pcm: bytes) -> None:
        samples = np.frombuffer(pcm, dtype=np.int16)
        key = f"tr:{session.speaker_id}"
        for listener in self._listeners(session):
            buffer = listener.buffers.get(key)
            if buffer is not None:
                buffer.push(samples)

    def on_transcript(self, session: TranslationSession, *, kind: str, text: str) -> None:
        speaker = self.participants.get(session.speaker_id)
        if speaker is None or not text:
            return
        message = {
            "type": "worker.caption",
            "speaker": speaker.id,
            "name": speaker.info.name,
            "language": session.language,
            "kind": kind,
            "text": text,
        }
        for listener in self._listeners(session):
            self.outbox.send(listener.reply_channel, message)
        # Listeners who share the speaker's language have no session of their own: they read
        # the source transcript of the speaker's first session.
        if (
            kind == "original"
            and speaker.session_languages
            and session.language == speaker.session_languages[0]
        ):
            same = {**message, "language": speaker.info.speak}
            for listener in self.participants.values():
                if listener is not speaker and listener.info.hear == speaker.info.speak:
                    self.outbox.send(listener.reply_channel, same)

    def on_session_status(self, session: TranslationSession, status: str, detail: str) -> None:
        logger.info("room=%s %r: %s %s", self.room_id, session, status, detail)
        message = {
            "type": "worker.translation",
            "speaker": session.speaker_id,
            "language": session.language,
            "status": status,
            "detail": detail,
        }
        for listener in self._listeners(session):
            self.outbox.send(listener.reply_channel, message)
