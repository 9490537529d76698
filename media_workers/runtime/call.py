"""A room's live call on one worker: its participants, their translation sessions, their mixes.

Who gets which translation and what each listener hears is decided by `plan.plan()`, a pure
function of the roster; `Call` applies the difference between that plan and what runs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import numpy as np
from django.conf import settings
from django.utils.translation import gettext_noop
from openai import AsyncOpenAI

from media_workers.runtime.ice import BadOffer
from media_workers.runtime.interpreter import InterpreterSession
from media_workers.runtime.peer import Participant
from media_workers.runtime.plan import Plan, SessionKey, Source, SourceKey, plan
from media_workers.runtime.transcripts import Transcriber
from media_workers.runtime.translation import Slots, TranslationSession, Usage, append_message
from media_workers.shared import contract
from media_workers.shared.contract import ParticipantInfo, is_turn_based, room_group

logger = logging.getLogger(__name__)

# Peak level (int16) above which a chunk counts as speech for the translation's stall watchdog.
SPEECH_LEVEL = 1000


class Outbox(Protocol):
    def send(self, channel: str, message: contract.Message) -> None: ...

    def group_send(self, group: str, message: contract.Message) -> None: ...


class Call:
    """The participants of one room connected to this worker, and their translations."""

    def __init__(
        self,
        *,
        room_id: str,
        outbox: Outbox,
        client: AsyncOpenAI,
        on_empty: Callable[[Call], None],
        on_session_end: Callable[[TranslationSession, Usage], None] | None = None,
        slots: Slots | None = None,
        on_utterance: Callable[[contract.UtteranceReport], None] | None = None,
    ) -> None:
        self.room_id = room_id
        self.outbox = outbox
        self.client = client
        self.participants: dict[str, Participant] = {}
        self.sessions: dict[SessionKey, TranslationSession] = {}
        # Wanted sessions left out by MAX_TRANSLATION_SESSIONS_PER_CALL (their listeners were told).
        self.limited: set[SessionKey] = set()
        # The room's owner as of the latest join: new sessions are charged to them.
        self.payer_id: int | None = None
        self._on_empty = on_empty
        self._on_session_end = on_session_end
        self._slots = slots
        self._tasks: set[asyncio.Task[Any]] = set()
        # Closes of sessions nobody wants any more: `close()` lets them finish their flush.
        self._flushes: set[asyncio.Task[Any]] = set()
        self._lock = asyncio.Lock()
        self._joining: set[str] = set()
        # Closed (the room was closed or deleted, or the worker stops): joins still answering end.
        self.ended = False
        # Per participant id, for as long as the call lasts (a rejoin must not reset it): when
        # their listening language last changed, and the language they last had.
        self._hear_changed_at: dict[str, float] = {}
        self._last_hear: dict[str, str] = {}
        # Why translation is off for this call (the owner's quota ran out), or None.
        self.translation_blocked: str | None = None
        # While the room keeps transcripts: collects utterances and hands them to `on_utterance`.
        self._on_utterance = on_utterance
        self.transcriber: Transcriber | None = None
        self._transcriber_task: asyncio.Task[Any] | None = None

    @property
    def is_empty(self) -> bool:
        return not self.participants and not self._joining

    def __repr__(self) -> str:
        return (
            f"<Call room={self.room_id} participants={len(self.participants)} sessions={len(self.sessions)}>"
        )

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self._flushes.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("room=%s task %s failed", self.room_id, task.get_name(), exc_info=task.exception())

    # --- Signalling --------------------------------------------------------------------------

    def _refuse(self, reply_channel: str, code: str, message: str) -> None:
        self.outbox.send(reply_channel, contract.WorkerError(code=code, message=message))

    async def join(self, *, info: ParticipantInfo, reply_channel: str, sdp: str, sdp_type: str) -> None:
        """Connect a participant (replacing an earlier connection of theirs) and answer them."""
        if info.id in self._joining:
            self._refuse(reply_channel, "join_in_progress", "Your previous offer is still being answered.")
            return
        if len((self.participants.keys() | self._joining) - {info.id}) >= settings.MAX_PARTICIPANTS_PER_CALL:
            self._refuse(
                reply_channel,
                "call_full",
                gettext_noop("This call is full: at most %(n)s people can be in it.")
                % {"n": settings.MAX_PARTICIPANTS_PER_CALL},
            )
            if self.is_empty:
                self._on_empty(self)
            return
        self._joining.add(info.id)
        try:
            await self._join(info=info, reply_channel=reply_channel, sdp=sdp, sdp_type=sdp_type)
        finally:
            self._joining.discard(info.id)
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
            detail = f": {exc}" if isinstance(exc, BadOffer) else "."
            self._refuse(reply_channel, "bad_offer", f"The call could not use that offer{detail}")
            return
        async with self._lock:
            if self.ended:
                await participant.close()
                return
            previous = self.participants.get(info.id)
            self.participants[info.id] = participant
            # A rejoin is no way around the pace of language changes.
            requested = info.hear
            info.hear = self._last_hear.setdefault(info.id, requested)
            self._change_language(participant, requested)
            if info.muted:
                self._mute_changed(participant)
            if previous is not None:
                # The new connection's audio starts from empty buffers.
                self._drop_sources_of(info.id)
            self._reconcile()
        if previous is not None:
            if previous.reply_channel != reply_channel:
                self.outbox.send(previous.reply_channel, contract.Replaced())
            await previous.close()
        self.outbox.send(reply_channel, contract.Answer(sdp=answer.sdp, sdp_type=answer.type))
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
            self._drop_sources_of(participant_id)
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
        if "hear" in changes:
            self._change_language(participant, changes["hear"])
        was_muted = info.muted
        for field in ("muted", "background", "original_volume", "translation_volume", "name", "speak"):
            if field in changes:
                setattr(info, field, changes[field])
        if info.muted != was_muted:
            self._mute_changed(participant)
        self._reconcile()

    def _change_language(self, participant: Participant, language: str) -> None:
        """Switch what a participant hears, at most once per LANGUAGE_CHANGE_INTERVAL_SECONDS.

        Each switch opens and closes translation sessions; a change within the interval
        waits for its end, and only the last one asked for is applied then.
        """
        participant.pending_hear = language
        if language == participant.info.hear:
            participant.pending_hear = None
            return
        interval = settings.LANGUAGE_CHANGE_INTERVAL_SECONDS
        wait = self._hear_changed_at.get(participant.id, -interval) + interval - time.monotonic()
        if wait <= 0:
            self._apply_language(participant)
        elif not participant.language_timer_set:
            participant.language_timer_set = True
            self.spawn(self._apply_language_later(participant, wait), name=f"language {participant.id}")

    def _apply_language(self, participant: Participant) -> None:
        language, participant.pending_hear = participant.pending_hear, None
        if language is None or language == participant.info.hear:
            return
        participant.info.hear = self._last_hear[participant.id] = language
        self._hear_changed_at[participant.id] = time.monotonic()
        # Translation already queued in the old language is no longer wanted.
        for key, buffer in participant.buffers.items():
            if key.kind is Source.TRANSLATION:
                buffer.clear()

    async def _apply_language_later(self, participant: Participant, wait: float) -> None:
        await asyncio.sleep(wait)
        participant.language_timer_set = False
        if self.participants.get(participant.id) is participant:
            self._apply_language(participant)
            self._reconcile()

    def _mute_changed(self, participant: Participant) -> None:
        """Muted: close the speaker's translations after MUTED_SESSION_CLOSE_SECONDS; unmuted: reopen."""
        participant.muted_since = time.monotonic() if participant.info.muted else None
        participant.translation_paused = False
        if participant.muted_since is not None:
            self.spawn(
                self._pause_translation_later(participant, participant.muted_since),
                name=f"muted {participant.id}",
            )

    async def _pause_translation_later(self, participant: Participant, muted_since: float) -> None:
        await asyncio.sleep(settings.MUTED_SESSION_CLOSE_SECONDS)
        if self.participants.get(participant.id) is participant and participant.muted_since == muted_since:
            logger.info(
                "room=%s participant=%s: muted, closing their translations", self.room_id, participant.id
            )
            participant.translation_paused = True
            self._reconcile()

    def set_translation_blocked(self, reason: str | None) -> None:
        """Stop (or allow again) every translation in this call; the call itself goes on."""
        if reason == self.translation_blocked:
            return
        self.translation_blocked = reason
        self._reconcile()
        for participant in self.participants.values():
            self._tell_translation_off(participant)

    def set_keep_transcripts(self, keep: bool) -> None:
        """Start keeping what is said from now on, or stop (what is not finished is not kept)."""
        if keep == (self.transcriber is not None) or self._on_utterance is None:
            return
        if keep:
            self.transcriber = Transcriber(room_id=self.room_id, send=self._on_utterance)
            self._transcriber_task = self.spawn(self.transcriber.run(), name="transcripts")
        else:
            assert self.transcriber is not None and self._transcriber_task is not None
            self.transcriber.drop_all()
            self._transcriber_task.cancel()
            self.transcriber = self._transcriber_task = None
        logger.info("room=%s: transcripts %s", self.room_id, "on" if keep else "off")

    def _tell_translation_off(self, participant: Participant) -> None:
        self.outbox.send(
            participant.reply_channel,
            contract.TranslationStatus(
                speaker=None,
                language=participant.info.hear,
                status="off" if self.translation_blocked else "live",
                detail=self.translation_blocked or "",
            ),
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
        self.ended = True
        # Flushes already under way finish too (each bounded by CLOSE_TIMEOUT): cut, they would
        # lose the listener's last words and the session's final usage report.
        flushes = list(self._flushes)
        await asyncio.gather(*(s.close() for s in sessions), *flushes, return_exceptions=True)
        if self.transcriber is not None:
            # After the flushes: the last words belong to the transcript too.
            self.transcriber.finish_all()
        await asyncio.gather(*(p.close() for p in participants), return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()

    # --- Routing -----------------------------------------------------------------------------

    def _plan(self) -> Plan:
        people = self.participants.values()
        return plan(
            [p.info for p in people],
            translation_blocked=bool(self.translation_blocked),
            paused={p.id for p in people if p.translation_paused},
            running=self.sessions,
            limit=settings.MAX_TRANSLATION_SESSIONS_PER_CALL,
        )

    def _reconcile(self) -> None:
        """Apply the roster's plan: start and stop sessions, rewire every listener's mix."""
        wanted = self._plan()
        self._tell_limited(set(wanted.limited))
        for key in [k for k in self.sessions if k not in wanted.sessions]:
            session = self.sessions.pop(key)
            self._flushes.add(self.spawn(session.close(), name=f"close {session!r}"))
        for speaker_id, language in sorted(wanted.sessions - self.sessions.keys()):
            # Languages the translate model cannot speak get a turn-based interpreter.
            kind = InterpreterSession if is_turn_based(language) else TranslationSession
            session = kind(
                client=self.client,
                room_id=self.room_id,
                speaker_id=speaker_id,
                language=language,
                listener=self,
                transcribe_input=bool(settings.OPENAI_INPUT_TRANSCRIPTION_MODEL),
                chunk_ms=settings.TRANSLATION_CHUNK_MS,
                payer_id=self.payer_id,
                slots=self._slots,
                on_usage=self._on_session_end,
            )
            self.sessions[session.key] = session
            session.start()
        for participant in self.participants.values():
            participant.session_languages = wanted.languages_of(participant.id)
            mix = wanted.sources.get(participant.id, {})
            for source in [k for k in participant.buffers if k not in mix]:
                participant.drop_source(source)
            for source, gain in mix.items():
                participant.source(source, gain)
        self.outbox.group_send(room_group(self.room_id), self.roster())

    def _drop_sources_of(self, speaker_id: str) -> None:
        for other in self.participants.values():
            other.drop_source(SourceKey.original(speaker_id))
            other.drop_source(SourceKey.translation(speaker_id))

    def _tell_limited(self, limited: set[SessionKey]) -> None:
        """Tell the listeners of each newly left-out session why they hear no translation."""
        for speaker_id, language in limited - self.limited:
            message = contract.TranslationStatus(
                speaker=speaker_id,
                language=language,
                status="limited",
                detail=gettext_noop(
                    "This call runs at most %(n)s translations at once: this one starts when a place is free."
                )
                % {"n": settings.MAX_TRANSLATION_SESSIONS_PER_CALL},
            )
            for listener in self._listeners_of(speaker_id, language):
                self.outbox.send(listener.reply_channel, message)
        self.limited = limited

    def roster(self) -> contract.Roster:
        """Who is in the call and which translations run: what every room page shows."""
        return contract.Roster(
            participants=[p.info.public() for p in self.participants.values()],
            sessions=[
                contract.SessionInfo(speaker, language) for (speaker, language) in sorted(self.sessions)
            ],
        )

    def on_speaker_audio(self, speaker: Participant, pcm: bytes) -> None:
        """The hot path: 20 ms of a speaker's voice (24 kHz mono PCM16) arrives."""
        if speaker.info.muted:
            # Keep the translation's clock running on silence; nobody hears the muted voice.
            pcm = bytes(len(pcm))
        else:
            samples = np.frombuffer(pcm, dtype=np.int16)
            key = SourceKey.original(speaker.id)
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
        return self._listeners_of(session.speaker_id, session.language)

    def _listeners_of(self, speaker_id: str, language: str) -> list[Participant]:
        """Who hears `speaker_id` in `language`: the listeners of that language but the speaker."""
        return [p for p in self.participants.values() if p.id != speaker_id and p.info.hear == language]

    # --- TranslationSession listener ---------------------------------------------------------

    def on_translated_audio(self, session: TranslationSession, pcm: bytes) -> None:
        samples = np.frombuffer(pcm, dtype=np.int16)
        key = SourceKey.translation(session.speaker_id)
        for listener in self._listeners(session):
            buffer = listener.buffers.get(key)
            if buffer is not None:
                buffer.push(samples)

    def on_transcript(self, session: TranslationSession, *, kind: str, text: str) -> None:
        speaker = self.participants.get(session.speaker_id)
        if speaker is None or not text:
            return
        message = contract.Caption(
            speaker=speaker.id, name=speaker.info.name, language=session.language, kind=kind, text=text
        )
        for listener in self._listeners(session):
            self.outbox.send(listener.reply_channel, message)
        if self.transcriber is not None:
            self.transcriber.add(
                speaker_id=speaker.id,
                speaker_name=speaker.info.name,
                source_language=speaker.info.speak,
                language=session.language,
                kind=kind,
                text=text,
                turn_based=any(is_turn_based(language) for language in speaker.session_languages),
            )
        # Listeners who share the speaker's language have no session of their own: they read
        # the source transcript of the speaker's first session.
        if (
            kind == "original"
            and speaker.session_languages
            and session is self._original_captions_of(speaker)
        ):
            same = dataclasses.replace(message, language=speaker.info.speak)
            for listener in self._listeners_of(speaker.id, speaker.info.speak):
                self.outbox.send(listener.reply_channel, same)

    def _original_captions_of(self, speaker: Participant) -> TranslationSession | None:
        """The session whose source transcript a speaker's same-language listeners read: the
        first live translation's (it follows the speech), else the first interpreter's (it
        comes after each turn)."""
        running = [self.sessions.get((speaker.id, language)) for language in speaker.session_languages]
        sessions = [session for session in running if session is not None]
        live = [session for session in sessions if not isinstance(session, InterpreterSession)]
        return next(iter(live or sessions), None)

    def on_session_status(self, session: TranslationSession, status: str, detail: str) -> None:
        logger.info("room=%s %r: %s %s", self.room_id, session, status, detail)
        message = contract.TranslationStatus(
            speaker=session.speaker_id, language=session.language, status=status, detail=detail
        )
        for listener in self._listeners(session):
            self.outbox.send(listener.reply_channel, message)
