"""One OpenAI realtime translation session: one speaker's voice into one listener language.

The session owns its connection task. It reconnects with backoff on errors and dropped
connections while the listeners hear silence; it never raises into the call.

OpenAI ends each of its sessions at `expires_at`, so a long translation runs through a chain
of OpenAI sessions ("links"). `TRANSLATION_ROTATE_SECONDS` before a link expires its successor
is opened with the same configuration, the speaker's audio moves to it between two chunks, and
the old link is asked to flush (`session.close`): the listeners hear all of the old link's
output, then the successor's, which is held back until then. No chunk goes to both, so the
translation's one usage record stays the sum of what each link was sent.
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

from media_workers.runtime import counters

logger = logging.getLogger(__name__)

# How long `close()` (and a rotation) waits for `session.closed` after asking the server to flush.
CLOSE_TIMEOUT = 3.0
# How long a successor may take to connect before the rotation is tried again.
OPEN_TIMEOUT = 10.0
# A successor that failed to open is tried again after about this long (while its predecessor lives).
RETRY_ROTATION_SECONDS = 2.0
CLOSE_EVENT = '{"type":"session.close"}'
# Events a successor holds back until its predecessor has delivered its flush.
OUTPUT_EVENTS = frozenset(
    ("session.output_audio.delta", "session.output_transcript.delta", "session.input_transcript.delta")
)
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
    """The owner's places for translation sessions (media_workers/runtime/slots.py)."""

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
    # Tokens by class, for models billed by the token (see contract.UsageReport.tokens).
    tokens: dict[str, int] = field(default_factory=dict)


def append_message(chunk: bytes) -> str:
    """The `input_audio_buffer.append` event for a chunk, built once and shared by sessions."""
    return '{"type":"session.input_audio_buffer.append","audio":"' + base64.b64encode(chunk).decode() + '"}'


def rotation_delay(*, opened_at: float, expires_at: float, margin: float, now: float) -> float:
    """Seconds from `now` until a link opened at `opened_at` hands over to its successor.

    `margin` before it expires, but never before half its life: a margin longer than the
    service's session lifetime would otherwise rotate without pause.
    """
    return max(expires_at - margin, opened_at + (expires_at - opened_at) / 2) - now


class _Link:
    """One OpenAI session (one WebSocket) of a translation."""

    def __init__(self, connection: Any, *, hold: bool) -> None:
        self.connection = connection
        self.opened_at = time.time()
        self.expires_at: float | None = None
        self.live = asyncio.Event()
        self.closed = asyncio.Event()
        # Output held back while the predecessor still flushes; None once it is delivered live.
        self.held: list[dict[str, Any]] | None = [] if hold else None
        self.reader: asyncio.Task[None] | None = None

    async def close(self) -> None:
        if self.reader is not None and self.reader is not asyncio.current_task():
            self.reader.cancel()
        try:
            await self.connection.close()
        except Exception:
            logger.debug("error while closing a translation connection", exc_info=True)


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

    # Server events a successor holds back until its predecessor has delivered its flush.
    output_events = OUTPUT_EVENTS

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
        self.model = self._model()
        self.id = uuid.uuid4().hex
        self._clock = clock
        self.usage = Usage(id=self.id, started_at=clock())
        self._month_ends = next_month_start(self.usage.started_at)
        self.status = "connecting"
        self.holds_slot = False
        self._slots = slots
        # OpenAI sessions handed over to a successor before they expired.
        self.rotations = 0
        self._on_usage = on_usage
        # When speech was first sent with no server event since (the stall watchdog's clock).
        self._unanswered_since: float | None = None
        self._stalled = False
        self._pending: collections.deque[tuple[str, int, bool]] = collections.deque(
            maxlen=max(1, int(MAX_PENDING_SECONDS * 1000 / chunk_ms))
        )
        self._wakeup = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        # The link the speaker's audio goes to, and the one ready to take over from it.
        self._link: _Link | None = None
        self._successor: _Link | None = None
        # Handed-over links still delivering their flush.
        self._retiring: set[asyncio.Task[None]] = set()

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
        link = self._link
        if link is not None and link.live.is_set() and link.reader is not None:
            # The send loop sends what is still queued, then asks for the flush; wait until
            # session.closed, or the connection ends without it (the session expired).
            await asyncio.wait({link.reader}, timeout=CLOSE_TIMEOUT)
            if not link.closed.is_set():
                logger.info("room=%s %r: no session.closed (timed out, or it ended)", self.room_id, self)
        if self._retiring:
            await asyncio.wait(self._retiring, timeout=CLOSE_TIMEOUT)
        await self._stop()

    async def _stop(self) -> None:
        for task in [self._task, *self._retiring]:
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                try:
                    await task
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
        link, self._link = self._link, None
        if link is not None:
            await link.close()

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

    def _model(self) -> str:
        return str(settings.OPENAI_TRANSLATION_MODEL)

    def _connect(self) -> Any:
        """The SDK's connection manager for one OpenAI session of this translation."""
        return self.client.realtime.translations.connect(model=self.model)

    async def _request_flush(self, link: _Link) -> None:
        """Ask `link`'s server to deliver what it still owes, then end the session (`session.closed`)."""
        await link.connection.send_raw(CLOSE_EVENT)

    def _expects_answer(self, speech: bool) -> bool:
        """Whether a chunk sent now should soon bring a server event (the stall watchdog's rule)."""
        return speech

    async def _open(self, *, hold: bool = False) -> _Link:
        """Connect one OpenAI session and give it this translation's whole configuration.

        Every link, the first, a reconnection or a successor, is opened here from the same
        configuration, so a successor translates exactly as its predecessor did.
        """
        link = _Link(await self._connect().enter(), hold=hold)
        try:
            link.reader = asyncio.create_task(self._receive_loop(link), name=f"{self!r} reader")
            await link.connection.session.update(session=self._session_config())
        except BaseException:
            await link.close()
            raise
        return link

    async def _run(self) -> None:
        attempt = 0
        link: _Link | None = None
        await self._wait_for_slot()
        while not self._closing:
            try:
                if link is None:
                    link = await self._open()
                    self._link = link
                attempt = 0
                link = await self._pump(link)
                if link is not None or self._closing:
                    continue
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
                link = None
            await self._disconnect()
            if self._closing:
                return
            self.usage.reconnects += 1
            counters.OPENAI_RECONNECTS.inc()
            attempt += 1
            self._set_status("reconnecting", detail)
            delay = min(settings.TRANSLATION_RECONNECT_MAX_DELAY, 0.25 * 2 ** (attempt - 1))
            await asyncio.sleep(delay * (0.75 + random.random() / 2))

    async def _pump(self, link: _Link) -> _Link | None:
        """Stream to `link` until it hands over to its successor (returned) or ends (None)."""
        assert link.reader is not None
        self._stalled = False
        self._unanswered_since = None
        sender = asyncio.create_task(self._send_loop(link))
        helpers = [
            asyncio.create_task(self._watch_for_stall(link)),
            asyncio.create_task(self._prepare_successor(link)),
        ]
        try:
            await asyncio.wait({sender, link.reader}, return_when=asyncio.FIRST_COMPLETED)
            if sender.done() and not sender.cancelled() and sender.exception() is None:
                successor = sender.result()
                if successor is not None:
                    self._retire(link, successor)
                    return successor
            await link.reader
            # The link ended unannounced: a successor already open takes over without a pause.
            successor, self._successor = self._successor, None
            if successor is not None and not self._closing:
                logger.info("room=%s %r: session ended early, its successor takes over", self.room_id, self)
                await link.close()
                self._link = successor
                self._release(successor)
                return successor
            return None
        finally:
            for task in [sender, *helpers]:
                task.cancel()
            await asyncio.gather(sender, *helpers, return_exceptions=True)
            if self._successor is not None:
                successor, self._successor = self._successor, None
                await successor.close()

    async def _prepare_successor(self, link: _Link) -> None:
        """Open `link`'s successor before it expires; the send loop hands over at its next chunk."""
        margin = settings.TRANSLATION_ROTATE_SECONDS
        await link.live.wait()
        if margin <= 0 or link.expires_at is None:
            return
        delay = rotation_delay(
            opened_at=link.opened_at, expires_at=link.expires_at, margin=margin, now=time.time()
        )
        await asyncio.sleep(delay)
        while True:
            try:
                successor = await asyncio.wait_for(self._open(hold=True), OPEN_TIMEOUT)
                try:
                    await asyncio.wait_for(successor.live.wait(), OPEN_TIMEOUT)
                except BaseException:
                    await successor.close()
                    raise
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning(
                    "room=%s %r: could not open the next session: %s", self.room_id, self, type(exc).__name__
                )
                await asyncio.sleep(RETRY_ROTATION_SECONDS * (0.75 + random.random() / 2))
                continue
            self._successor = successor
            self._wakeup.set()
            return

    def _retire(self, link: _Link, successor: _Link) -> None:
        self.rotations += 1
        logger.info("room=%s %r: moved to a new session before expiry", self.room_id, self)
        counters.OPENAI_ROTATIONS.inc()
        task = asyncio.create_task(self._finish_flush(link, successor), name=f"{self!r} flush")
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _finish_flush(self, link: _Link, successor: _Link) -> None:
        """Deliver everything the old link's flush brings, then what its successor held back."""
        assert link.reader is not None
        try:
            await asyncio.wait({link.reader}, timeout=CLOSE_TIMEOUT)
            if not link.closed.is_set():
                logger.info("room=%s %r: no session.closed before timeout", self.room_id, self)
        finally:
            self._release(successor)
            await link.close()

    def _release(self, link: _Link) -> None:
        held, link.held = link.held, None
        for event in held or ():
            self._handle(link, event)

    async def _watch_for_stall(self, link: _Link) -> None:
        """Speech went out and nothing came back for too long: drop the connection to reconnect."""
        limit = settings.TRANSLATION_STALL_SECONDS
        while True:
            await asyncio.sleep(min(1.0, limit / 4))
            since = self._unanswered_since
            if since is not None and time.monotonic() - since > limit:
                logger.warning("room=%s %r: no answer for %.0f s after speech", self.room_id, self, limit)
                self._stalled = True
                await link.connection.close()
                return

    async def _send_loop(self, link: _Link) -> _Link | None:
        """Send queued chunks to `link`; once a successor is ready, close `link` and return it.

        The hand-over happens here, between two chunks, so each chunk goes to exactly one link
        and the old link's `session.close` follows its last chunk.
        """
        from websockets.exceptions import ConnectionClosed

        pending = self._pending
        while True:
            successor = self._successor
            if successor is not None and not self._closing:
                self._successor = None
                try:
                    await self._request_flush(link)
                except Exception:
                    logger.info("room=%s %r: the old session was already gone", self.room_id, self)
                self._link = successor
                return successor
            if pending:
                message, n_bytes, speech = pending.popleft()
                self._roll_month()
                try:
                    await link.connection.send_raw(message)
                except ConnectionClosed:
                    # The link ended (expired, dropped) before this chunk went out: it goes first
                    # to the next link, unless the backlog filled meanwhile (then it is the oldest).
                    if len(pending) != pending.maxlen:
                        pending.appendleft((message, n_bytes, speech))
                    raise
                self.usage.seconds_sent += n_bytes / 48000
                if self._unanswered_since is None and self._expects_answer(speech):
                    self._unanswered_since = time.monotonic()
                continue
            if self._closing:
                # After the last chunk, so the flush translates everything the speaker said.
                try:
                    await self._request_flush(link)
                except Exception:
                    logger.debug("room=%s %r: could not ask to close", self.room_id, self, exc_info=True)
                return None
            self._wakeup.clear()
            await self._wakeup.wait()

    async def _receive_loop(self, link: _Link) -> None:
        """Reads `link`'s server events until it closes; returns normally on close."""
        from websockets.exceptions import ConnectionClosed

        while True:
            try:
                raw = await link.connection.recv_bytes()
            except ConnectionClosed:
                return
            self._unanswered_since = None
            event = json.loads(raw)
            if link.held is not None and event.get("type") in self.output_events:
                link.held.append(event)
            elif self._handle(link, event):
                return

    def _deliver(self, pcm: bytes) -> None:
        """Hand translated audio to the call, and meter it."""
        if self.usage.first_audio_at is None:
            self.usage.first_audio_at = time.time()
            counters.FIRST_TRANSLATED_AUDIO.observe(self.usage.first_audio_at - self.usage.started_at)
        self.usage.seconds_received += len(pcm) / 48000
        self.listener.on_translated_audio(self, pcm)

    def _handle(self, link: _Link, event: dict[str, Any]) -> bool:
        """Act on one server event of `link`; True once the link is closed."""
        kind = event.get("type")
        if kind == "session.output_audio.delta":
            self._deliver(base64.b64decode(event["delta"]))
        elif kind == "session.output_transcript.delta":
            self.listener.on_transcript(self, kind="translation", text=event.get("delta", ""))
        elif kind == "session.input_transcript.delta":
            self.listener.on_transcript(self, kind="original", text=event.get("delta", ""))
        elif kind in ("session.created", "session.updated"):
            expires_at = (event.get("session") or {}).get("expires_at")
            link.expires_at = float(expires_at) if isinstance(expires_at, int | float) else None
            link.live.set()
            self._set_status("live")
        elif kind == "session.closed":
            link.closed.set()
            return True
        elif kind == "error":
            self.usage.errors += 1
            counters.OPENAI_ERRORS.inc()
            error = event.get("error") or {}
            logger.warning(
                "room=%s %r: translation error %s: %s",
                self.room_id,
                self,
                error.get("code"),
                error.get("message"),
            )
            self.listener.on_session_status(self, "error", str(error.get("message") or "error"))
        return False
