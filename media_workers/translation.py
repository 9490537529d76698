"""One OpenAI realtime translation session: one speaker's voice into one listener language.

The session owns its connection task. It reconnects with backoff on errors and dropped
connections while the listeners hear silence; it never raises into the call.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import json
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from django.conf import settings
from openai import AsyncOpenAI

from . import metrics

logger = logging.getLogger(__name__)

# How long `close()` waits for `session.closed` after asking the server to flush.
CLOSE_TIMEOUT = 3.0
# Audio waiting to be sent while the connection is down is kept to about this much; older
# audio is dropped, since a listener gains nothing from hearing a long-past sentence late.
MAX_PENDING_SECONDS = 2.0
# How often a session refused a place under its owner's limit asks again.
SLOT_RETRY_SECONDS = 5.0
OWNER_LIMIT_DETAIL = (
    "Translation waits: this room's owner has as many translations running in their rooms as "
    "they may. It starts as soon as one ends."
)


class Listener(Protocol):
    def on_translated_audio(self, session: TranslationSession, pcm: bytes) -> None: ...

    def on_transcript(self, session: TranslationSession, *, kind: str, text: str) -> None: ...

    def on_session_status(self, session: TranslationSession, status: str, detail: str) -> None: ...


class Slots(Protocol):
    """The owner's places for translation sessions (media_workers/slots.py)."""

    async def acquire(self, session: TranslationSession) -> bool: ...

    async def release(self, session: TranslationSession) -> None: ...


@dataclass
class Usage:
    """What one session has cost and delivered so far in one calendar month (the metering basis).

    `id` names this part in usage reports: a session that runs into a new month goes on in
    a new part, so each month is charged what was sent in it.
    """

    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started_at: float = field(default_factory=time.time)
    ended_at: float | None = None
    seconds_sent: float = 0.0
    seconds_received: float = 0.0
    errors: int = 0
    reconnects: int = 0
    first_audio_at: float | None = None


def append_message(chunk: bytes) -> str:
    """The `input_audio_buffer.append` event for a chunk, built once and shared by sessions."""
    return '{"type":"session.input_audio_buffer.append","audio":"' + base64.b64encode(chunk).decode() + '"}'


def next_month_start(stamp: float) -> float:
    """The start (UTC) of the calendar month after the one `stamp` falls in."""
    moment = datetime.fromtimestamp(stamp, tz=UTC)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return datetime(year, month, 1, tzinfo=UTC).timestamp()


def make_client() -> AsyncOpenAI:
    # The demo translator accepts any key; the real key never leaves this process.
    return AsyncOpenAI(api_key=settings.OPENAI_API_KEY or "demo", base_url=settings.OPENAI_BASE_URL)


class TranslationSession:
    """Streams one speaker to OpenAI and hands the translation to the call."""

    def __init__(
        self,
        *,
        client: AsyncOpenAI,
        room_id: str,
        speaker_id: str,
        language: str,
        listener: Listener,
        transcribe_input: bool,
        chunk_ms: int,
        payer_id: int | None = None,
        slots: Slots | None = None,
        on_usage: Callable[[TranslationSession, Usage], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.room_id = room_id
        self.speaker_id = speaker_id
        self.language = language
        self.listener = listener
        self.transcribe_input = transcribe_input
        # Who pays, fixed now: a room deleted or handed over mid-call changes nothing.
        self.payer_id = payer_id
        self.id = uuid.uuid4().hex
        self._clock = clock
        self.usage = Usage(id=self.id, started_at=clock())
        self._month_ends = next_month_start(self.usage.started_at)
        self.status = "connecting"
        self.holds_slot = False
        self._slots = slots
        self._on_usage = on_usage
        # When speech was first sent with no server event since (the stall watchdog's clock).
        self._unanswered_since: float | None = None
        self._stalled = False
        self._pending: collections.deque[tuple[str, int, bool]] = collections.deque(
            maxlen=max(1, int(MAX_PENDING_SECONDS * 1000 / chunk_ms))
        )
        self._wakeup = asyncio.Event()
        self._closing = False
        self._closed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._connection: Any = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.speaker_id, self.language)

    def __repr__(self) -> str:
        return f"<TranslationSession room={self.room_id} speaker={self.speaker_id} -> {self.language}>"

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"translation {self.speaker_id}->{self.language}")

    def feed(self, message: str, n_bytes: int, speech: bool) -> None:
        """Queue one append event (from `append_message`); never blocks the audio path."""
        if self._closing:
            return
        self._pending.append((message, n_bytes, speech))
        self._wakeup.set()

    async def close(self) -> None:
        """Flush: ask the server to finish, wait for `session.closed`, then stop."""
        if self._closing:
            return
        self._closing = True
        self._wakeup.set()
        connection = self._connection
        if connection is not None and self.status == "live":
            try:
                await connection.send_raw('{"type":"session.close"}')
                await asyncio.wait_for(self._closed.wait(), CLOSE_TIMEOUT)
            except (TimeoutError, Exception):
                logger.info("room=%s %r: no session.closed before timeout", self.room_id, self)
        await self._stop()

    async def _stop(self) -> None:
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self._disconnect()
        if self.holds_slot and self._slots is not None:
            self.holds_slot = False
            await self._slots.release(self)
        self._roll_month()
        self.usage.ended_at = self._clock()
        if self._on_usage is not None:
            self._on_usage(self, self.usage)

    def _roll_month(self) -> None:
        """Past the end of the month: end this month's part of the usage there, go on in a new one."""
        while self._clock() >= self._month_ends:
            ended, boundary = self.usage, self._month_ends
            ended.ended_at = boundary
            self.usage = Usage(started_at=boundary)
            self._month_ends = next_month_start(boundary)
            logger.info("room=%s %r: new month, usage goes on in part %s", self.room_id, self, self.usage.id)
            if self._on_usage is not None:
                self._on_usage(self, ended)

    async def _wait_for_slot(self) -> None:
        """Take one of the owner's places (MAX_TRANSLATION_SESSIONS_PER_OWNER) before connecting."""
        while self._slots is not None and not self.holds_slot and not self._closing:
            self.holds_slot = await self._slots.acquire(self)
            if not self.holds_slot:
                self._set_status("limited", OWNER_LIMIT_DETAIL)
                await asyncio.sleep(SLOT_RETRY_SECONDS)

    async def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                await connection.close()
            except Exception:
                logger.debug("room=%s %r: error while closing", self.room_id, self, exc_info=True)

    def _set_status(self, status: str, detail: str = "") -> None:
        if status != self.status:
            self.status = status
            self.listener.on_session_status(self, status, detail)

    def _session_config(self) -> dict[str, Any]:
        audio_input: dict[str, Any] = {}
        if self.transcribe_input and settings.OPENAI_INPUT_TRANSCRIPTION_MODEL:
            audio_input["transcription"] = {"model": settings.OPENAI_INPUT_TRANSCRIPTION_MODEL}
        if settings.OPENAI_NOISE_REDUCTION:
            audio_input["noise_reduction"] = {"type": settings.OPENAI_NOISE_REDUCTION}
        audio: dict[str, Any] = {"output": {"language": self.language}}
        if audio_input:
            audio["input"] = audio_input
        return {"audio": audio}

    async def _run(self) -> None:
        attempt = 0
        await self._wait_for_slot()
        while not self._closing:
            try:
                manager = self.client.realtime.translations.connect(model=settings.OPENAI_TRANSLATION_MODEL)
                self._connection = await manager.enter()
                await self._connection.session.update(session=self._session_config())
                attempt = 0
                await self._pump(self._connection)
                if self._closing:
                    return
                if self._stalled:
                    detail = "the translation service stopped answering"
                else:
                    detail = "the translation service closed the session"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The message of an SDK error can carry request details; keep only the type.
                detail = type(exc).__name__
                logger.warning("room=%s %r: connection failed: %s", self.room_id, self, detail)
            await self._disconnect()
            if self._closing:
                return
            self.usage.reconnects += 1
            metrics.OPENAI_RECONNECTS.inc()
            attempt += 1
            self._set_status("reconnecting", detail)
            delay = min(settings.TRANSLATION_RECONNECT_MAX_DELAY, 0.25 * 2 ** (attempt - 1))
            await asyncio.sleep(delay * (0.75 + random.random() / 2))

    async def _pump(self, connection: Any) -> None:
        self._stalled = False
        self._unanswered_since = None
        helpers = [
            asyncio.create_task(self._send_loop(connection)),
            asyncio.create_task(self._watch_for_stall(connection)),
        ]
        try:
            await self._receive_loop(connection)
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)

    async def _watch_for_stall(self, connection: Any) -> None:
        """Speech went out and nothing came back for too long: drop the connection to reconnect."""
        limit = settings.TRANSLATION_STALL_SECONDS
        while True:
            await asyncio.sleep(min(1.0, limit / 4))
            since = self._unanswered_since
            if since is not None and time.monotonic() - since > limit:
                logger.warning("room=%s %r: no answer for %.0f s after speech", self.room_id, self, limit)
                self._stalled = True
                await connection.close()
                return

    async def _send_loop(self, connection: Any) -> None:
        pending = self._pending
        while True:
            while pending:
                message, n_bytes, speech = pending.popleft()
                self._roll_month()
                await connection.send_raw(message)
                self.usage.seconds_sent += n_bytes / 48000
                if speech and self._unanswered_since is None:
                    self._unanswered_since = time.monotonic()
            if self._closing:
                return
            self._wakeup.clear()
            await self._wakeup.wait()

    async def _receive_loop(self, connection: Any) -> None:
        """Reads server events until the connection closes; returns normally on close."""
        from websockets.exceptions import ConnectionClosed

        while True:
            try:
                raw = await connection.recv_bytes()
            except ConnectionClosed:
                return
            self._unanswered_since = None
            event = json.loads(raw)
            kind = event.get("type")
            if kind == "session.output_audio.delta":
                pcm = base64.b64decode(event["delta"])
                if self.usage.first_audio_at is None:
                    self.usage.first_audio_at = time.time()
                    metrics.FIRST_TRANSLATED_AUDIO.observe(self.usage.first_audio_at - self.usage.started_at)
                self.usage.seconds_received += len(pcm) / 48000
                self.listener.on_translated_audio(self, pcm)
            elif kind == "session.output_transcript.delta":
                self.listener.on_transcript(self, kind="translation", text=event.get("delta", ""))
            elif kind == "session.input_transcript.delta":
                self.listener.on_transcript(self, kind="original", text=event.get("delta", ""))
            elif kind in ("session.created", "session.updated"):
                self._set_status("live")
            elif kind == "session.closed":
                self._closed.set()
                return
            elif kind == "error":
                self.usage.errors += 1
                metrics.OPENAI_ERRORS.inc()
                error = event.get("error") or {}
                logger.warning(
                    "room=%s %r: translation error %s: %s",
                    self.room_id,
                    self,
                    error.get("code"),
                    error.get("message"),
                )
                self.listener.on_session_status(self, "error", str(error.get("message") or "error"))
