"""A local stand-in for OpenAI's Realtime Translation WebSocket API, for tests and keyless demos.

It speaks the protocol of `wss://api.openai.com/v1/realtime/translations` closely enough that the
official SDK connects to it unchanged (`AsyncOpenAI(base_url=server.base_url)`). What comes back
depends on a server-wide mode:

- `tone`: every 200 ms frame's dominant frequency comes back multiplied by the target language's
  `TONE_FACTORS` entry, so a test can tell which language it hears and that it is not the original.
- `echo`: each append comes straight back, for latency measurements.
- `framed`: the audio comes back unchanged, but as the real engine frames it: a 200 ms frame's
  output only once the frame is complete (what chunk sizes cost under the real model's framing).
- `demo`: the speaker's own voice, pitch-shifted and about a second late, for people without a key.

Faults are injected through plain HTTP GETs on `/_fake/...` on the same port (loopback only):
`drop`, `error?code=&message=&type=`, `stall?seconds=` (each optionally `&language=xx`, to hit
only the sessions translating into xx, or `&session=id`, to hit one), `reject?count=`,
`slow_connect?seconds=` (new connections wait that long before the handshake completes; 0 ends
it), `stats`. They are GETs because the websockets server parses nothing else.

Sessions end as OpenAI's do: at `expires_at` (announced in `session.created`; `session_lifetime_s`
from the start, so tests can expire sessions every few seconds) the server drops what is still
queued, sends an `error` with code `session_expired` and closes the socket with 1001. `stats`
lists the recently ended sessions and how each ended (`session.close`, `expired`, `disconnected`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import contextlib
import ipaddress
import json
import logging
import math
import re
import secrets
import time
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from media_workers.devtools import dsp
from media_workers.shared.contract import ENGLISH_NAMES, LISTENER_LANGUAGES, OUTPUT_LANGUAGES

from . import turns
from .modes import (
    DEMO_DELAY_MS,
    DEMO_INPUT_TRANSCRIPT,
    DEMO_PITCH_FACTOR,
    DEMO_TRANSCRIPT,
    ECHO_TRANSCRIPT_INTERVAL_S,
    FRAME_BYTES,
    MODES,
    SPEECH_HANGOVER_FRAMES,
    SPEECH_RMS,
    TONE_FACTORS,
)
from .validation import NOISE_REDUCTION_TYPES, InvalidRequest, as_object, realtime_session, reject_unknown

logger = logging.getLogger(__name__)

# Pending events per session (about 40 s of frames): a reader that outruns the sender waits
# instead of growing memory, which pushes back on the client through TCP like a busy server.
MAX_PENDING_EVENTS = 400
RECENT_ERRORS_KEPT = 20
ENDED_SESSIONS_KEPT = 1000
SESSION_LIFETIME_S = 3600
# WebSocket close code "going away": how the real API closes an expired session.
EXPIRED_CLOSE_CODE = 1001
TRANSLATION_PATHS = ("/v1/realtime/translations", "/realtime/translations")
REALTIME_PATHS = ("/v1/realtime", "/realtime")


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback IP address (IPv4-mapped IPv6 included)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


class _RedactAuthorization(logging.Filter):
    """Blanks the credential in websockets' DEBUG dump of request headers."""

    def filter(self, record: logging.LogRecord) -> bool:
        if (
            isinstance(record.args, tuple)
            and len(record.args) == 2
            and str(record.args[0]).lower() == "authorization"
        ):
            record.args = (record.args[0], "[redacted]")
        return True


# websockets logs every request header at DEBUG; route its log through a filter of ours.
_protocol_logger = logging.getLogger(f"{__name__}.protocol")
_protocol_logger.addFilter(_RedactAuthorization())


def _event_id() -> str:
    return f"event_{secrets.token_hex(10)}"


def _json_response(status: HTTPStatus, body: object) -> Response:
    data = json.dumps(body).encode()
    headers = Headers(
        [("Content-Type", "application/json"), ("Content-Length", str(len(data))), ("Connection", "close")]
    )
    return Response(status.value, status.phrase, headers, data)


def _http_error(
    status: HTTPStatus, message: str, code: str, error_type: str = "invalid_request_error"
) -> Response:
    return _json_response(status, {"error": {"type": error_type, "code": code, "message": message}})


class _Session:
    """One translation session: reads the client's events, queues output, sends it on time."""

    def __init__(self, server: FakeOpenAIServer, connection: ServerConnection, model: str) -> None:
        self.id = f"sess_{secrets.token_hex(8)}"
        self.server = server
        self.connection = connection
        self.model = model
        # Whole seconds, as the API announces it, and never before the lifetime is up.
        self.expires_at = math.ceil(time.time() + server.session_lifetime_s)
        # How the session ended (so far): "session.close", "expired" or "disconnected", and when
        # (wall clock): when the client asked to close, the session expired or the socket closed.
        self.ended_by = "disconnected"
        self.ended_at: float | None = None
        self.language: str | None = None
        self.transcription: dict[str, Any] | None = None
        self.noise_reduction: dict[str, Any] | None = None
        self.samples_in = 0
        self.frames_out = 0
        # A stall of this session alone (a stall of the whole server is on the server).
        self.stalled_until = 0.0
        self._samples_translated = 0
        self._pending_audio = bytearray()
        self._outbox: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue(MAX_PENDING_EVENTS)
        self._tone = dsp.ToneGenerator(0.0)
        self._shifter = dsp.PitchShifter(DEMO_PITCH_FACTOR)
        self._in_speech = False
        self._quiet_frames = 0
        self._last_echo_transcript = -math.inf
        self._missing_language_reported = False

    def describe(self) -> dict[str, Any]:
        """The session object as the API shows it in session.created / session.updated."""
        described: dict[str, Any] = {
            "id": self.id,
            "type": "translation",
            "model": self.model,
            "expires_at": self.expires_at,
            "audio": {
                "input": {"transcription": self.transcription, "noise_reduction": self.noise_reduction},
                "output": {"language": self.language},
            },
        }
        if not self.server.announce_expiry:
            del described["expires_at"]
        return described

    def stats(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "endpoint": "translations",
            "model": self.model,
            "output_language": self.language,
            "audio_seconds_received": self.samples_in / dsp.SAMPLE_RATE,
            "frames_out": self.frames_out,
        }

    async def enqueue(self, event: dict[str, Any], hold_ms: int = 0) -> None:
        event["event_id"] = _event_id()
        await self._outbox.put((time.monotonic() + hold_ms / 1000.0, event))

    async def enqueue_error(
        self,
        code: str,
        message: str,
        param: str | None = None,
        error_type: str = "invalid_request_error",
        client_event_id: str | None = None,
    ) -> None:
        error = {
            "type": error_type,
            "code": code,
            "message": message,
            "param": param,
            "event_id": client_event_id,
        }
        await self.enqueue({"type": "error", "error": error})

    def _release_at(self, due: float) -> float:
        return max(due, self.server.stalled_until, self.stalled_until)

    async def run_sender(self) -> None:
        """Send queued events once due; after session.closed, close the socket."""
        try:
            while True:
                due, event = await self._outbox.get()
                # Re-check after sleeping: a stall injected meanwhile moves the deadline.
                while (wait := self._release_at(due) - time.monotonic()) > 0:  # noqa: ASYNC110
                    await asyncio.sleep(wait)
                # Count before sending: once the client has the event, stats must already show it.
                if event["type"] in ("session.output_audio.delta", "response.output_audio.delta"):
                    self.frames_out += 1
                elif event["type"] == "error":
                    self.server.recent_errors.append({"session": self.id, **event["error"]})
                await self.connection.send(json.dumps(event))
                if event["type"] == "session.closed":
                    await self.connection.close()
                    return
        except ConnectionClosed:
            return

    async def handle(self, message: str | bytes) -> bool:
        """Act on one client message; False once the client has asked to close the session."""
        client_event_id: str | None = None
        try:
            try:
                event = json.loads(message)
            except ValueError as exc:
                raise InvalidRequest("invalid_json", f"The message is not valid JSON: {exc}.") from exc
            event = as_object(event, "event")
            if isinstance(event.get("event_id"), str):
                client_event_id = event["event_id"]
            kind = event.get("type")
            if kind == "session.input_audio_buffer.append":
                await self._append(event)
            elif kind == "session.update":
                await self._update(event)
            elif kind == "session.close":
                self.ended_by = "session.close"
                self.ended_at = time.time()
                await self._close()
                return False
            else:
                raise InvalidRequest(
                    "invalid_value",
                    f"Invalid value: {kind!r}. Supported values are: 'session.update', "
                    "'session.input_audio_buffer.append' and 'session.close'.",
                    "type",
                )
        except InvalidRequest as exc:
            logger.info("session %s: rejected client event: %s", self.id, exc.message)
            await self.enqueue_error(exc.code, exc.message, exc.param, client_event_id=client_event_id)
        return True

    async def _update(self, event: dict[str, Any]) -> None:
        # Validate everything before changing anything, so a rejected update changes nothing.
        session = as_object(event.get("session"), "session")
        reject_unknown(session, ("audio",), "session")
        audio = as_object(session.get("audio", {}), "session.audio")
        reject_unknown(audio, ("input", "output"), "session.audio")
        language = self.language
        if "output" in audio:
            output = as_object(audio["output"], "session.audio.output")
            reject_unknown(output, ("language",), "session.audio.output")
            if "language" in output:
                language = output["language"]
                if language not in OUTPUT_LANGUAGES:
                    raise InvalidRequest(
                        "invalid_value",
                        f"Invalid value: {language!r}. Supported values are: {', '.join(OUTPUT_LANGUAGES)}.",
                        "session.audio.output.language",
                    )
        transcription = self.transcription
        noise_reduction = self.noise_reduction
        if "input" in audio:
            audio_input = as_object(audio["input"], "session.audio.input")
            reject_unknown(audio_input, ("transcription", "noise_reduction"), "session.audio.input")
            if "transcription" in audio_input:
                transcription = self._transcription(audio_input["transcription"])
            if "noise_reduction" in audio_input:
                noise_reduction = self._noise_reduction(audio_input["noise_reduction"])
        self.language, self.transcription, self.noise_reduction = language, transcription, noise_reduction
        logger.info("session %s: output language %s", self.id, self.language)
        await self.enqueue({"type": "session.updated", "session": self.describe()})

    @staticmethod
    def _transcription(value: object) -> dict[str, Any] | None:
        param = "session.audio.input.transcription"
        if value is None:
            return None
        value = as_object(value, param)
        reject_unknown(value, ("model",), param)
        if not isinstance(value.get("model"), str) or not value["model"]:
            raise InvalidRequest("missing_required_parameter", f"Missing '{param}.model'.", f"{param}.model")
        return {"model": value["model"]}

    def _noise_reduction(self, value: object) -> dict[str, Any] | None:
        param = "session.audio.input.noise_reduction"
        if value is None:
            return None
        value = as_object(value, param)
        reject_unknown(value, ("type", "strength"), param)
        if value.get("type") not in NOISE_REDUCTION_TYPES:
            raise InvalidRequest(
                "invalid_value", f"Invalid value: {value.get('type')!r} for '{param}.type'.", f"{param}.type"
            )
        # The API keeps the current strength when an update leaves it out; 1 when first enabled.
        strength = value.get("strength", (self.noise_reduction or {}).get("strength", 1.0))
        if not isinstance(strength, int | float) or isinstance(strength, bool):
            raise InvalidRequest("invalid_type", f"'{param}.strength' must be a number.", f"{param}.strength")
        return {"type": value["type"], "strength": float(strength)}

    async def _append(self, event: dict[str, Any]) -> None:
        audio = event.get("audio")
        if not isinstance(audio, str):
            raise InvalidRequest(
                "missing_required_parameter", "Missing required parameter: 'audio'.", "audio"
            )
        try:
            data = base64.b64decode(audio, validate=True)
        except binascii.Error as exc:
            raise InvalidRequest("invalid_value", "'audio' is not valid base64.", "audio") from exc
        if len(data) % 2:
            raise InvalidRequest("invalid_value", "'audio' must be PCM16: an even number of bytes.", "audio")
        self.samples_in += len(data) // 2
        if self.language is None:
            # Once, not per append: a client that forgot session.update would drown in errors.
            if not self._missing_language_reported:
                self._missing_language_reported = True
                raise InvalidRequest(
                    "missing_required_parameter",
                    "Set session.audio.output.language with session.update before appending audio.",
                    "session.audio.output.language",
                )
            return
        if self.server.mode == "echo":
            await self._echo(data)
            return
        self._pending_audio.extend(data)
        while len(self._pending_audio) >= FRAME_BYTES:
            frame = bytes(self._pending_audio[:FRAME_BYTES])
            del self._pending_audio[:FRAME_BYTES]
            await self._translate_frame(dsp.pcm16_to_array(frame))

    async def expire(self, sender: asyncio.Task[None]) -> None:
        """At `expires_at`: drop what is still queued, say why, and close with 1001."""
        await asyncio.sleep(self.expires_at - time.time())
        sender.cancel()
        self.ended_by = "expired"
        self.ended_at = time.time()
        lifetime = self.server.session_lifetime_s
        duration = f"{lifetime / 60:g} minutes" if lifetime >= 60 else f"{lifetime:g} seconds"
        error = {
            "type": "invalid_request_error",
            "code": "session_expired",
            "message": f"Your session hit the maximum duration of {duration}.",
            "param": None,
            "event_id": None,
        }
        self.server.recent_errors.append({"session": self.id, **error})
        logger.info("session %s: expired", self.id)
        with contextlib.suppress(ConnectionClosed):
            await self.connection.send(json.dumps({"type": "error", "event_id": _event_id(), "error": error}))
            await self.connection.close(EXPIRED_CLOSE_CODE, "session expired")

    async def _close(self) -> None:
        if self._pending_audio and self.language is not None:
            await self._translate_frame(dsp.pcm16_to_array(bytes(self._pending_audio)))
        self._pending_audio.clear()
        await self.enqueue({"type": "session.closed"})

    async def _echo(self, data: bytes) -> None:
        elapsed_ms = self._samples_translated * 1000 // dsp.SAMPLE_RATE
        self._samples_translated += len(data) // 2
        text = None
        now = time.monotonic()
        if now - self._last_echo_transcript >= ECHO_TRANSCRIPT_INTERVAL_S:
            self._last_echo_transcript = now
            text = "[echo] "
        await self._emit(data, elapsed_ms, text, text)

    async def _translate_frame(self, samples: dsp.Pcm16) -> None:
        elapsed_ms = self._samples_translated * 1000 // dsp.SAMPLE_RATE
        self._samples_translated += samples.size
        if self.server.mode == "tone":
            audio, output_text, input_text = self._tone_frame(samples)
        elif self.server.mode == "framed":
            audio, output_text, input_text = samples, None, None
        else:
            audio, output_text, input_text = self._demo_frame(samples)
        await self._emit(dsp.array_to_pcm16(audio), elapsed_ms, output_text, input_text)

    def _tone_frame(self, samples: dsp.Pcm16) -> tuple[dsp.Pcm16, str | None, str | None]:
        assert self.language is not None
        source = dsp.dominant_frequency(samples)
        if source is None:
            return np.zeros_like(samples), None, None
        self._tone.freq = source * TONE_FACTORS[self.language]
        return self._tone.next(samples.size), f"[tone {self._tone.freq:.0f} Hz] ", f"[tone {source:.0f} Hz] "

    def _demo_frame(self, samples: dsp.Pcm16) -> tuple[dsp.Pcm16, str | None, str | None]:
        assert self.language is not None
        # Shift even the quiet frames so the shifter's delay line stays continuous.
        shifted = self._shifter.process(samples)
        level = dsp.rms(samples)
        audio = shifted if level >= dsp.SILENCE_RMS else np.zeros_like(samples)
        if level >= SPEECH_RMS:
            self._quiet_frames = 0
            if not self._in_speech:
                self._in_speech = True
                language = OUTPUT_LANGUAGES[self.language]
                return audio, DEMO_TRANSCRIPT.format(language=language), DEMO_INPUT_TRANSCRIPT
        elif self._in_speech:
            self._quiet_frames += 1
            self._in_speech = self._quiet_frames < SPEECH_HANGOVER_FRAMES
        return audio, None, None

    async def _emit(
        self, pcm: bytes, elapsed_ms: int, output_text: str | None, input_text: str | None
    ) -> None:
        hold_ms = self.server.delay_ms + (DEMO_DELAY_MS if self.server.mode == "demo" else 0)
        delta = base64.b64encode(pcm).decode()
        await self.enqueue(
            {
                "type": "session.output_audio.delta",
                "delta": delta,
                "sample_rate": dsp.SAMPLE_RATE,
                "channels": 1,
                "format": "pcm16",
                "elapsed_ms": elapsed_ms,
            },
            hold_ms,
        )
        if output_text is not None:
            await self.enqueue(
                {"type": "session.output_transcript.delta", "delta": output_text, "elapsed_ms": elapsed_ms},
                hold_ms,
            )
        if input_text is not None and self.transcription is not None:
            await self.enqueue(
                {"type": "session.input_transcript.delta", "delta": input_text, "elapsed_ms": elapsed_ms},
                hold_ms,
            )


class _RealtimeSession(_Session):
    """One `/v1/realtime` session (a general voice model), as the interpreter uses it: turn-based.

    Server VAD (turns.py) ends each turn at a pause; only then does the turn come back, as one
    response: in tone mode each speech frame's frequency times the TONE_FACTORS entry of the
    language the instructions ask for ("... into Turkish ..."); in echo mode the turn itself; in
    demo mode the turn's voice pitch-shifted (without the translation endpoint's extra delay:
    turn-taking is delay enough). With its output transcript and a `response.done` that carries
    the token usage. Old items can be deleted; nothing else of the
    conversation API is implemented (such events get an error that says so).
    """

    SUPPORTED = (
        "session.update",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
        "response.create",
        "conversation.item.delete",
    )
    NOT_IN_FAKE = (
        "conversation.item.create",
        "conversation.item.retrieve",
        "conversation.item.truncate",
        "response.cancel",
        "output_audio_buffer.clear",
    )

    def __init__(self, server: FakeOpenAIServer, connection: ServerConnection, model: str) -> None:
        super().__init__(server, connection, model)
        self.instructions = ""
        self.voice = "marin"
        self.output_modalities = ["audio"]
        self.turn_detection: dict[str, Any] | None = {
            "type": "server_vad",
            "silence_duration_ms": turns.DEFAULT_SILENCE_MS,
            "create_response": True,
            "interrupt_response": True,
        }
        self.detector = turns.TurnDetector()
        # The conversation: item id -> (role, input tokens it adds: audio, text).
        self.conversation: dict[str, tuple[str, int, int]] = {}
        self._unanswered: list[tuple[str, turns.Turn]] = []
        self.responses = 0
        self.tokens = {"input": 0, "output": 0}

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "id": self.id,
            "object": "realtime.session",
            "type": "realtime",
            "model": self.model,
            "expires_at": self.expires_at,
            "instructions": self.instructions,
            "output_modalities": self.output_modalities,
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": dsp.SAMPLE_RATE},
                    "transcription": self.transcription,
                    "noise_reduction": self.noise_reduction,
                    "turn_detection": self.turn_detection,
                },
                "output": {"format": {"type": "audio/pcm", "rate": dsp.SAMPLE_RATE}, "voice": self.voice},
            },
        }
        if not self.server.announce_expiry:
            del described["expires_at"]
        return described

    def stats(self) -> dict[str, Any]:
        return {
            **super().stats(),
            "endpoint": "realtime",
            "conversation_items": len(self.conversation),
            "responses": self.responses,
            "tokens": dict(self.tokens),
        }

    async def handle(self, message: str | bytes) -> bool:
        client_event_id: str | None = None
        try:
            try:
                event = json.loads(message)
            except ValueError as exc:
                raise InvalidRequest("invalid_json", f"The message is not valid JSON: {exc}.") from exc
            event = as_object(event, "event")
            if isinstance(event.get("event_id"), str):
                client_event_id = event["event_id"]
            kind = event.get("type")
            if kind == "session.update":
                await self._update(event)
            elif kind == "input_audio_buffer.append":
                await self._append_turns(event)
            elif kind == "input_audio_buffer.commit":
                await self._commit()
            elif kind == "input_audio_buffer.clear":
                self.detector.clear()
                await self.enqueue({"type": "input_audio_buffer.cleared"})
            elif kind == "response.create":
                await self._respond()
            elif kind == "conversation.item.delete":
                await self._delete(event)
            elif kind in self.NOT_IN_FAKE:
                raise InvalidRequest(
                    "not_implemented", f"The fake OpenAI server does not implement {kind!r}.", "type"
                )
            else:
                raise InvalidRequest(
                    "invalid_value",
                    f"Invalid value: {kind!r}. Supported values are: "
                    + ", ".join(repr(k) for k in (*self.SUPPORTED, *self.NOT_IN_FAKE))
                    + ".",
                    "type",
                )
        except InvalidRequest as exc:
            logger.info("session %s: rejected client event: %s", self.id, exc.message)
            await self.enqueue_error(exc.code, exc.message, exc.param, client_event_id=client_event_id)
        return True

    async def _update(self, event: dict[str, Any]) -> None:
        # Validate everything before changing anything, so a rejected update changes nothing.
        update = realtime_session(event.get("session"))
        noise_reduction = self.noise_reduction
        if "noise_reduction" in update:
            noise_reduction = self._noise_reduction(update["noise_reduction"])
        self.noise_reduction = noise_reduction
        self.instructions = update.get("instructions", self.instructions)
        self.output_modalities = update.get("output_modalities", self.output_modalities)
        self.voice = update.get("voice", self.voice)
        if "transcription" in update:
            self.transcription = update["transcription"]
        if "turn_detection" in update:
            self.turn_detection = update["turn_detection"]
        silence = (self.turn_detection or {}).get("silence_duration_ms")
        self.detector.silence_ms = silence if isinstance(silence, int) else turns.DEFAULT_SILENCE_MS
        self.language = target_language(self.instructions)
        logger.info("session %s: interpreting into %s", self.id, self.language)
        await self.enqueue({"type": "session.updated", "session": self.describe()})

    async def _append_turns(self, event: dict[str, Any]) -> None:
        audio = event.get("audio")
        if not isinstance(audio, str):
            raise InvalidRequest(
                "missing_required_parameter", "Missing required parameter: 'audio'.", "audio"
            )
        try:
            data = base64.b64decode(audio, validate=True)
        except binascii.Error as exc:
            raise InvalidRequest("invalid_value", "'audio' is not valid base64.", "audio") from exc
        if len(data) % 2:
            raise InvalidRequest("invalid_value", "'audio' must be PCM16: an even number of bytes.", "audio")
        self.samples_in += len(data) // 2
        vad = self.turn_detection is not None
        for seen in self.detector.feed(dsp.pcm16_to_array(data), detect=vad):
            item_id = seen.turn.item_id
            if seen.kind == "started":
                await self.enqueue(
                    {
                        "type": "input_audio_buffer.speech_started",
                        "audio_start_ms": seen.audio_ms,
                        "item_id": item_id,
                    }
                )
                continue
            await self.enqueue(
                {
                    "type": "input_audio_buffer.speech_stopped",
                    "audio_end_ms": seen.audio_ms,
                    "item_id": item_id,
                }
            )
            await self._committed(turn=seen.turn)
            if (self.turn_detection or {}).get("create_response", True):
                await self._respond()

    async def _commit(self) -> None:
        buffered = self.detector.buffered_ms
        turn = self.detector.commit()
        if turn is None:
            raise InvalidRequest(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least 100ms of "
                f"audio, but buffer only has {buffered:.2f}ms of audio.",
            )
        await self._committed(turn=turn)

    async def _committed(self, *, turn: turns.Turn) -> None:
        item_id = turn.item_id
        previous = next(reversed(self.conversation), None)
        await self.enqueue(
            {"type": "input_audio_buffer.committed", "item_id": item_id, "previous_item_id": previous}
        )
        self.conversation[item_id] = (
            "user",
            turns.user_audio_tokens(len(turn.tones) * turns.VAD_FRAME_MS),
            0,
        )
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        await self.enqueue({"type": "conversation.item.added", "item": item, "previous_item_id": previous})
        await self.enqueue({"type": "conversation.item.done", "item": item, "previous_item_id": previous})
        self._unanswered.append((item_id, turn))
        if self.transcription is not None:
            heard = " ".join(f"[tone {tone:.0f} Hz]" for tone in _distinct(turn.tones)) + " "
            await self.enqueue(
                {
                    "type": "conversation.item.input_audio_transcription.delta",
                    "item_id": item_id,
                    "content_index": 0,
                    "delta": heard,
                }
            )
            await self.enqueue(
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": item_id,
                    "content_index": 0,
                    "transcript": heard,
                }
            )

    async def _respond(self) -> None:
        """One response: the oldest unanswered turn in the target language (tone mode), with usage."""
        hold_ms = self.server.delay_ms
        response_id = f"resp_{secrets.token_hex(8)}"
        item_id = f"item_{secrets.token_hex(8)}"
        self.responses += 1
        response: dict[str, Any] = {
            "id": response_id,
            "object": "realtime.response",
            "status": "in_progress",
            "output": [],
            "output_modalities": self.output_modalities,
            "usage": None,
        }
        await self.enqueue({"type": "response.created", "response": dict(response)}, hold_ms)
        input_audio = sum(audio for (_, audio, _) in self.conversation.values())
        input_text = turns.text_tokens(self.instructions) + sum(
            text for (_, _, text) in self.conversation.values()
        )
        _, turn = self._unanswered.pop(0) if self._unanswered else ("", turns.Turn(start_ms=0))
        previous = next(reversed(self.conversation), None)
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        await self.enqueue(
            {
                "type": "response.output_item.added",
                "response_id": response_id,
                "output_index": 0,
                "item": item,
            },
            hold_ms,
        )
        await self.enqueue(
            {"type": "conversation.item.added", "item": item, "previous_item_id": previous}, hold_ms
        )
        where = {"response_id": response_id, "item_id": item_id, "output_index": 0, "content_index": 0}
        transcript = ""
        audio_ms = 0
        factor = TONE_FACTORS.get(self.language or "")
        # Demo mode: the turn's own voice, pitch-shifted, with a line saying it is a demo.
        language = LISTENER_LANGUAGES.get(self.language or "", "?")
        demo_text = DEMO_TRANSCRIPT.format(language=language)
        for tone, frame in zip(turn.tones, turn.frames, strict=True):
            if tone is None and self.server.mode == "tone":
                continue
            if self.server.mode == "tone" and factor is not None and tone is not None:
                self._tone.freq = tone * factor
                pcm = self._tone.next(turns.VAD_FRAME_SAMPLES)
                text = f"[tone {self._tone.freq:.0f} Hz] "
            elif self.server.mode == "echo":
                pcm, text = frame, "[echo] "
            elif self.server.mode == "demo":
                pcm, text = self._shifter.process(frame), demo_text
            else:
                pcm, text = np.zeros(turns.VAD_FRAME_SAMPLES, dtype=np.int16), ""
            audio_ms += turns.VAD_FRAME_MS
            if text and not transcript.endswith(text):
                transcript += text
                await self.enqueue(
                    {"type": "response.output_audio_transcript.delta", **where, "delta": text}, hold_ms
                )
            await self.enqueue(
                {
                    "type": "response.output_audio.delta",
                    **where,
                    "delta": base64.b64encode(dsp.array_to_pcm16(pcm)).decode(),
                },
                hold_ms,
            )
        await self.enqueue({"type": "response.output_audio.done", **where}, hold_ms)
        await self.enqueue(
            {"type": "response.output_audio_transcript.done", **where, "transcript": transcript}, hold_ms
        )
        output_audio = turns.assistant_audio_tokens(audio_ms)
        output_text = turns.text_tokens(transcript)
        self.conversation[item_id] = ("assistant", output_audio, output_text)
        done_item = {
            **item,
            "status": "completed",
            "content": [{"type": "output_audio", "transcript": transcript}],
        }
        await self.enqueue(
            {
                "type": "response.output_item.done",
                "response_id": response_id,
                "output_index": 0,
                "item": done_item,
            },
            hold_ms,
        )
        await self.enqueue(
            {"type": "conversation.item.done", "item": done_item, "previous_item_id": previous}, hold_ms
        )
        usage: dict[str, Any] = {
            "total_tokens": input_audio + input_text + output_audio + output_text,
            "input_tokens": input_audio + input_text,
            "output_tokens": output_audio + output_text,
            "input_token_details": {
                "text_tokens": input_text,
                "audio_tokens": input_audio,
                "image_tokens": 0,
                "cached_tokens": 0,
                "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
            },
            "output_token_details": {"text_tokens": output_text, "audio_tokens": output_audio},
        }
        self.tokens["input"] += input_audio + input_text
        self.tokens["output"] += output_audio + output_text
        done = {**response, "status": "completed", "output": [done_item], "usage": usage}
        await self.enqueue({"type": "response.done", "response": done}, hold_ms)

    async def _delete(self, event: dict[str, Any]) -> None:
        item_id = event.get("item_id")
        if not isinstance(item_id, str):
            raise InvalidRequest(
                "missing_required_parameter", "Missing required parameter: 'item_id'.", "item_id"
            )
        if item_id not in self.conversation:
            raise InvalidRequest("invalid_value", f"Item with item_id not found: {item_id}.", "item_id")
        del self.conversation[item_id]
        await self.enqueue({"type": "conversation.item.deleted", "item_id": item_id})


def _distinct(tones: list[float | None]) -> list[float]:
    """The tones of a turn in order, each run of one (within 5 Hz) named once."""
    result: list[float] = []
    for tone in tones:
        if tone is not None and not (result and abs(result[-1] - tone) < 5):
            result.append(tone)
    return result


def target_language(instructions: str) -> str | None:
    """The language the instructions ask to interpret into ("... into Turkish ..."), or None."""
    names = {name.lower(): code for code, name in ENGLISH_NAMES.items()}
    for word in re.findall(r"\binto (\w+)", instructions):
        if word.lower() in names:
            return names[word.lower()]
    return None


class FakeOpenAIServer:
    """A local WebSocket server that speaks OpenAI's Realtime Translation protocol."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        mode: str = "demo",
        delay_ms: int = 0,
        *,
        session_lifetime_s: float = SESSION_LIFETIME_S,
        announce_expiry: bool = True,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if delay_ms < 0:
            raise ValueError("delay_ms must not be negative")
        if not session_lifetime_s > 0:
            raise ValueError("session_lifetime_s must be positive")
        self.host = host
        self.mode = mode
        self.delay_ms = delay_ms
        self.session_lifetime_s = session_lifetime_s
        # False: session.created carries no expires_at, and sessions still expire unannounced.
        self.announce_expiry = announce_expiry
        self.ended_sessions: collections.deque[dict[str, Any]] = collections.deque(maxlen=ENDED_SESSIONS_KEPT)
        self.stalled_until = 0.0
        self.total_connections = 0
        self.connect_delay = 0.0
        self.recent_errors: collections.deque[dict[str, Any]] = collections.deque(maxlen=RECENT_ERRORS_KEPT)
        self._port = port
        self._reject_remaining = 0
        self._sessions: dict[str, _Session] = {}
        self._server: Server | None = None

    @property
    def port(self) -> int:
        """The listening port (the one the OS picked when constructed with port 0)."""
        return self._port

    @property
    def base_url(self) -> str:
        """What to pass as the SDK client's `base_url`."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}/v1"

    async def start(self) -> None:
        self._server = await serve(
            self._handle,
            self.host,
            self._port,
            process_request=self._process_request,
            logger=_protocol_logger,
        )
        self._port = next(iter(self._server.sockets)).getsockname()[1]
        logger.info(
            "fake OpenAI listening on %s (mode %s, delay %d ms)", self.base_url, self.mode, self.delay_ms
        )

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        await self._server.wait_closed()
        self._server = None
        logger.info("fake OpenAI stopped")

    async def serve_forever(self) -> None:
        """Serve until cancelled, then stop."""
        if self._server is None:
            await self.start()
        try:
            await asyncio.Future()
        finally:
            await self.stop()

    async def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if url.path.startswith("/_fake/"):
            return await self._control(connection, url.path.removeprefix("/_fake/"), parse_qs(url.query))
        if url.path.rstrip("/") not in (*TRANSLATION_PATHS, *REALTIME_PATHS):
            return _http_error(HTTPStatus.NOT_FOUND, f"No such endpoint: {url.path}", "not_found")
        if self.connect_delay > 0:
            await asyncio.sleep(self.connect_delay)
        if self._reject_remaining > 0:
            self._reject_remaining -= 1
            return _http_error(
                HTTPStatus.SERVICE_UNAVAILABLE,
                "Injected fault: try again later.",
                "unavailable",
                "server_error",
            )
        if "OpenAI-Beta" in request.headers:
            return _http_error(
                HTTPStatus.BAD_REQUEST,
                "The OpenAI-Beta header is not supported: the beta Realtime shape is switched off.",
                "beta_header_not_supported",
            )
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _http_error(
                HTTPStatus.UNAUTHORIZED, "Missing bearer authentication in header.", "invalid_api_key"
            )
        if not parse_qs(url.query).get("model", [""])[0]:
            return _http_error(
                HTTPStatus.BAD_REQUEST, "Missing required parameter: 'model'.", "missing_required_parameter"
            )
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        url = urlsplit(connection.request.path) if connection.request else urlsplit("")
        model = parse_qs(url.query)["model"][0] if connection.request else ""
        kind = _RealtimeSession if url.path.rstrip("/") in REALTIME_PATHS else _Session
        session = kind(self, connection, model)
        self._sessions[session.id] = session
        self.total_connections += 1
        logger.info("session %s: opened (model %s)", session.id, model)
        sender = asyncio.create_task(session.run_sender())
        expiry = asyncio.create_task(session.expire(sender))
        try:
            await session.enqueue({"type": "session.created", "session": session.describe()})
            async for message in connection:
                if not await session.handle(message):
                    # session.close: the sender flushes what is queued, then closes the socket
                    # (unless the session expires first, which cancels it).
                    await asyncio.wait({sender})
                    break
        except ConnectionClosed:
            pass
        finally:
            for task in (sender, expiry):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            del self._sessions[session.id]
            ended = {"ended_by": session.ended_by, "ended_at": session.ended_at or time.time()}
            self.ended_sessions.append({**session.stats(), **ended})
            logger.info(
                "session %s: closed after %.1f s of audio", session.id, session.samples_in / dsp.SAMPLE_RATE
            )

    async def _control(
        self, connection: ServerConnection, action: str, query: dict[str, list[str]]
    ) -> Response:
        peer = connection.remote_address
        if not (isinstance(peer, tuple) and is_loopback(str(peer[0]))):
            return _http_error(HTTPStatus.FORBIDDEN, "The control API is loopback-only.", "forbidden")
        # `language=xx` aims a fault at the sessions translating into xx, `session=id` at one
        # session; without either, at all.
        language = query.get("language", [None])[0]
        session_id = query.get("session", [None])[0]
        sessions = [
            s
            for s in self._sessions.values()
            if (language is None or s.language == language) and (session_id is None or s.id == session_id)
        ]
        try:
            if action == "drop":
                for session in sessions:
                    # Abort the TCP connection: no close frame, as when a network path dies.
                    session.connection.transport.abort()
                logger.info("fault: dropped %d sessions", len(sessions))
                return _json_response(HTTPStatus.OK, {"dropped": len(sessions)})
            if action == "error":
                code = query.get("code", ["server_error"])[0]
                message = query.get("message", ["Injected fault."])[0]
                error_type = query.get("type", ["server_error"])[0]
                for session in sessions:
                    await session.enqueue_error(code, message, error_type=error_type)
                return _json_response(HTTPStatus.OK, {"sent": len(sessions)})
            if action == "stall":
                seconds = float(query.get("seconds", ["5"])[0])
                if language is None and session_id is None:
                    self.stalled_until = time.monotonic() + seconds
                for session in sessions:
                    session.stalled_until = time.monotonic() + seconds
                logger.info("fault: output of %d sessions stalled for %.1f s", len(sessions), seconds)
                return _json_response(HTTPStatus.OK, {"stalled_seconds": seconds})
            if action == "reject":
                self._reject_remaining = int(query.get("count", ["1"])[0])
                return _json_response(HTTPStatus.OK, {"rejecting": self._reject_remaining})
            if action == "slow_connect":
                self.connect_delay = max(0.0, float(query.get("seconds", ["1"])[0]))
                return _json_response(HTTPStatus.OK, {"connect_delay": self.connect_delay})
            if action == "stats":
                return _json_response(HTTPStatus.OK, self.stats())
        except ValueError as exc:
            return _http_error(HTTPStatus.BAD_REQUEST, f"Bad parameter: {exc}", "invalid_value")
        return _http_error(HTTPStatus.NOT_FOUND, f"No such control action: {action}", "not_found")

    def stats(self) -> dict[str, Any]:
        """Open and recently ended sessions, total connections and the most recent error events sent."""
        return {
            "mode": self.mode,
            "delay_ms": self.delay_ms,
            "session_lifetime_s": self.session_lifetime_s,
            "total_connections": self.total_connections,
            "sessions": [session.stats() for session in self._sessions.values()],
            "ended_sessions": list(self.ended_sessions),
            "recent_errors": list(self.recent_errors),
        }
