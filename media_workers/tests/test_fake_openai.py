"""The fake translator, driven by the real openai SDK client: proof that it speaks the protocol."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import signal
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from openai import AsyncOpenAI
from openai.resources.realtime.translations.translations import AsyncTranslationsConnection
from openai.types.realtime import RealtimeTranslationSessionUpdateRequestParam
from openai.types.websocket_reconnection import ReconnectingEvent
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidStatus

from media_workers.devtools import dsp
from media_workers.devtools.call_client import until
from media_workers.devtools.fake_openai import TONE_FACTORS, FakeOpenAIServer, is_loopback

MODEL = "gpt-realtime-translate"
ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 5.0

StartServer = Callable[..., Awaitable[FakeOpenAIServer]]


@pytest.fixture
async def start_server() -> AsyncIterator[StartServer]:
    servers: list[FakeOpenAIServer] = []

    async def start(mode: str = "tone", delay_ms: int = 0, **options: Any) -> FakeOpenAIServer:
        server = FakeOpenAIServer("127.0.0.1", 0, mode, delay_ms, **options)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


def client_for(server: FakeOpenAIServer) -> AsyncOpenAI:
    return AsyncOpenAI(api_key="sk-test", base_url=server.base_url)


async def recv(connection: AsyncTranslationsConnection) -> Any:
    async with asyncio.timeout(TIMEOUT):
        return await connection.recv()


async def recv_until(connection: AsyncTranslationsConnection, last_type: str) -> list[Any]:
    events = []
    async with asyncio.timeout(TIMEOUT):
        while True:
            event = await connection.recv()
            events.append(event)
            if event.type == last_type:
                return events


async def configure(
    connection: AsyncTranslationsConnection, language: str = "es", transcription: bool = False
) -> Any:
    """Read session.created, set the output language, return session.updated."""
    assert (await recv(connection)).type == "session.created"
    session: RealtimeTranslationSessionUpdateRequestParam = {"audio": {"output": {"language": language}}}
    if transcription:
        session["audio"]["input"] = {"transcription": {"model": "gpt-realtime-whisper"}}
    await connection.session.update(session=session)
    updated = await recv(connection)
    assert updated.type == "session.updated"
    return updated


async def append(connection: AsyncTranslationsConnection, samples: dsp.Pcm16, chunk_ms: int = 100) -> None:
    step = dsp.SAMPLE_RATE * chunk_ms // 1000
    for start in range(0, samples.size, step):
        pcm = dsp.array_to_pcm16(samples[start : start + step])
        await connection.session.input_audio_buffer.append(audio=base64.b64encode(pcm).decode())


async def close(connection: AsyncTranslationsConnection) -> list[Any]:
    """Ask to close; return every event up to and including session.closed."""
    await connection.session.close()
    return await recv_until(connection, "session.closed")


def output_audio(events: list[Any]) -> dsp.Pcm16:
    deltas = [e.delta for e in events if e.type == "session.output_audio.delta"]
    return dsp.pcm16_to_array(b"".join(base64.b64decode(delta) for delta in deltas))


def text_of(events: list[Any], event_type: str) -> str:
    return "".join(e.delta for e in events if e.type == event_type)


async def control(server: FakeOpenAIServer, action: str) -> Any:
    def get() -> Any:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{server.port}/_fake/{action}", timeout=TIMEOUT
        ) as reply:
            return json.load(reply)

    return await asyncio.to_thread(get)


async def test_it_greets_a_new_session_with_session_created(start_server: StartServer) -> None:
    server = await start_server()
    async with client_for(server).realtime.translations.connect(model=MODEL) as connection:
        created = await recv(connection)

    assert created.type == "session.created"
    assert created.event_id
    assert created.session.id.startswith("sess_")
    assert created.session.type == "translation"
    assert created.session.model == MODEL
    assert created.session.audio.output.language is None
    assert created.session.expires_at > time.time()


async def test_it_expires_a_session_at_its_expires_at_losing_what_was_in_flight(
    start_server: StartServer,
) -> None:
    server = await start_server("tone", delay_ms=3000, session_lifetime_s=1.5)
    opened = time.time()
    async with client_for(server).realtime.translations.connect(model=MODEL) as connection:
        created = await recv(connection)
        await connection.session.update(session={"audio": {"output": {"language": "es"}}})
        await append(connection, dsp.tone(400.0, 0.4))
        events = await recv_until(connection, "error")
        with pytest.raises(ConnectionClosed) as closed:
            await recv(connection)
    expired_at = time.time()

    # Announced in whole seconds, never before the lifetime is up, and kept.
    assert opened + 1.5 <= created.session.expires_at <= opened + 2.5
    assert created.session.expires_at <= expired_at < created.session.expires_at + 1.0
    assert events[-1].error.code == "session_expired"
    assert "maximum duration" in events[-1].error.message
    # The translation still held back (delay_ms) is gone with the session.
    assert not [e for e in events if e.type == "session.output_audio.delta"]
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert await until(lambda: [s["ended_by"] for s in server.stats()["ended_sessions"]] == ["expired"])


async def test_it_can_leave_expires_at_out_and_still_expire(start_server: StartServer) -> None:
    server = await start_server("tone", session_lifetime_s=0.5, announce_expiry=False)
    async with client_for(server).realtime.translations.connect(model=MODEL) as connection:
        created = await recv(connection)
        error = await recv(connection)

    assert created.session.expires_at is None
    assert error.error.code == "session_expired"


async def test_it_records_how_each_session_ended(start_server: StartServer) -> None:
    server = await start_server("tone")
    async with client_for(server).realtime.translations.connect(model=MODEL) as connection:
        await configure(connection)
        await append(connection, dsp.tone(400.0, 0.3))
        await close(connection)
    async with client_for(server).realtime.translations.connect(model=MODEL) as connection:
        await configure(connection)

    assert await until(lambda: len(server.stats()["ended_sessions"]) == 2, timeout=TIMEOUT)
    first, second = server.stats()["ended_sessions"]
    assert (first["ended_by"], second["ended_by"]) == ("session.close", "disconnected")
    assert first["audio_seconds_received"] == pytest.approx(0.3)
    assert server.stats()["sessions"] == []


def test_it_refuses_a_session_lifetime_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="session_lifetime_s"):
        FakeOpenAIServer(session_lifetime_s=0)


async def test_it_also_serves_the_endpoint_without_the_v1_prefix(start_server: StartServer) -> None:
    server = await start_server()
    client = AsyncOpenAI(api_key="sk-test", base_url=server.base_url.removesuffix("/v1"))
    async with client.realtime.translations.connect(model=MODEL) as connection:
        created = await recv(connection)

    assert created.type == "session.created"


async def test_it_confirms_an_update_with_the_merged_session(start_server: StartServer) -> None:
    server = await start_server()
    async with client_for(server).realtime.translations.connect(model=MODEL) as connection:
        created = await recv(connection)
        await connection.session.update(
            session={
                "audio": {"input": {"noise_reduction": {"type": "far_field"}}, "output": {"language": "ja"}}
            }
        )
        first = await recv(connection)
        await connection.session.update(session={"audio": {"input": {"transcription": {"model": "whisper"}}}})
        second = await recv(connection)

    assert first.type == second.type == "session.updated"
    assert second.session.id == created.session.id
    assert second.session.audio.output.language == "ja"
    assert second.session.audio.input.noise_reduction.type == "far_field"
    assert second.session.audio.input.noise_reduction.strength == 1.0
    assert second.session.audio.input.transcription.model == "whisper"
    assert len({created.event_id, first.event_id, second.event_id}) == 3


@pytest.mark.parametrize("language", ["es", "fr", "ja"])
async def test_it_translates_a_tone_into_the_languages_own_frequency(
    start_server: StartServer, language: str
) -> None:
    server = await start_server("tone")
    expected = 400.0 * TONE_FACTORS[language]
    async with client_for(server).realtime.translations.connect(model=MODEL) as connection:
        await configure(connection, language)
        await append(connection, dsp.tone(400.0, 1.0), chunk_ms=100)
        events = await close(connection)

    audio = output_audio(events)
    assert audio.size == dsp.SAMPLE_RATE
    assert dsp.dominant_frequency(audio, dsp.SAMPLE_RATE) == pytest.approx(expected, abs=5.0)
    assert dsp.band_energy(audio, dsp.SAMPLE_RATE, expected) > 0.95
    assert dsp.band_energy(audio, dsp.SAMPLE_RATE, 400.0) < 0.01
    named = [
        float(hz)
        for hz in re.findall(r"\[tone (\d+) Hz\] ", text_of(events, "session.output_transcript.delta"))
    ]
    assert len(named) == 5
    assert named == pytest.approx([expected] * 5, abs=5.0)
    assert text_of(events, "session.input_transcript.delta") == ""


async def test_it_answers_silence_with_silence_and_no_text(start_server: StartServer) -> None:
    server = await start_server("tone")
    async with client_for(server).realtime.translations.connect(model=MODEL) as connection:
        await configure(connection, "es", transcription=True)
        await append(connection, np.zeros(dsp.SAMPLE_RATE, dtype=np.int16))
        events = await close(connection)

    audio = output_audio(events)
    assert audio.size == dsp.SAMPLE_RATE
    assert not audio.any()
    assert [e.type for e in events if "transcript" in e.type] == []


async def test_it_sends_the_source_transcript_when_transcription_is_configured(
    start_server: StartServer,
) -> None:
    server = await start_server("tone")
    async with client_for(server).realtime.translations.connect(model=MODEL) as connection:
        await configure(connection, "en", transcription=True)
        await append(connection, dsp.tone(400.0, 0.4), chunk_ms=200)
        events = await close(connection)

    assert text_of(events, "session.input_transcript.delta") == "[tone 400 Hz] [tone 400 Hz] "
    assert text_of(events, "session.output_transcript.delta") == "[tone 500 Hz] [tone 500 Hz] "
    assert [e.elapsed_ms for e in events if e.type == "session.input_transcript.delta"] == [0, 200]


async def test_it_echoes_each_append_unchanged(start_server: StartServer) -> None:
    server = await start_server("echo")
    rng = np.random.default_rng(7)
    chunks = [(rng.standard_normal(n) * 3000).astype(np.int16) for n in (123, 2400, 4801)]
    async with client_for(server).realtime.translations.connect(model=MODEL) as connection:
        await configure(connection, "de")
        received = []
        for chunk in chunks:
            pcm = dsp.array_to_pcm16(chunk)
            await connection.session.input_audio_buffer.append(audio=base64.b64encode(pcm).decode())
            received += await recv_until(connection, "session.output_audio.delta")
        received += await close(connection)

    deltas = [base64.b64decode(e.delta) for e in received if e.type == "session.output_audio.delta"]
    assert deltas == [dsp.array_to_pcm16(chunk) for chunk in chunks]
    assert text_of(received, "session.output_transcript.delta") == "[echo] "


async def test_framed_it_answers_each_200ms_frame_unchanged_once_complete(start_server: StartServer) -> None:
    server = await start_server("framed")
    rng = np.random.default_rng(8)
    audio = (rng.standard_normal(4800 * 2 + 1000) * 3000).astype(np.int16)
    async with client_for(server).realtime.translations.connect(model=MODEL) as connection:
        await configure(connection, "fr")
        # 100 ms chunks: the first chunk completes no frame, the second completes the first.
        for start in (0, 2400):
            pcm = dsp.array_to_pcm16(audio[start : start + 2400])
            await connection.session.input_audio_buffer.append(audio=base64.b64encode(pcm).decode())
        first = await recv_until(connection, "session.output_audio.delta")
        pcm = dsp.array_to_pcm16(audio[4800:])
        await connection.session.input_audio_buffer.append(audio=base64.b64encode(pcm).decode())
        rest = await close(connection)

    deltas = [base64.b64decode(e.delta) for e in first + rest if e.type == "session.output_audio.delta"]
    # Two complete frames, then the remainder flushed by session.close.
    assert [len(d) // 2 for d in deltas] == [4800, 4800, 1000]
    assert b"".join(deltas) == dsp.array_to_pcm16(audio)


async def test_it_plays_the_demo_voice_back_later_higher_with_a_line_per_utterance(
    start_server: StartServer,
) -> None:
    server = await start_server("demo")
    silence = np.zeros(dsp.SAMPLE_RATE * 4 // 5, dtype=np.int16)
    speech = np.concatenate([dsp.tone(300.0, 0.6), silence, dsp.tone(300.0, 0.4)])
    async with client_for(server).realtime.translations.connect(model=MODEL) as connection:
        await configure(connection, "es")
        sent_at = time.monotonic()
        await append(connection, speech, chunk_ms=200)
        first = await recv_until(connection, "session.output_audio.delta")
        waited = time.monotonic() - sent_at
        events = first + await close(connection)

    assert waited > 0.8
    audio = output_audio(events)
    assert audio.size == speech.size
    first_utterance = audio[2400:14400]
    assert dsp.band_energy(first_utterance, dsp.SAMPLE_RATE, 300.0 * 1.35) > 0.9
    assert dsp.band_energy(first_utterance, dsp.SAMPLE_RATE, 300.0) < 0.01
    assert not audio[14400 : 14400 + silence.size].any()
    lines = text_of(events, "session.output_transcript.delta")
    assert lines.count("(demo translation to Español") == 2


async def test_it_holds_output_for_delay_ms(start_server: StartServer) -> None:
    server = await start_server("tone", delay_ms=300)
    async with client_for(server).realtime.translations.connect(model=MODEL) as connection:
        await configure(connection, "it")
        sent_at = time.monotonic()
        await append(connection, dsp.tone(400.0, 0.2), chunk_ms=200)
        await recv_until(connection, "session.output_audio.delta")

    assert time.monotonic() - sent_at > 0.25


async def test_it_flushes_a_partial_frame_before_closing(start_server: StartServer) -> None:
    server = await start_server("tone")
    async with client_for(server).realtime.translations.connect(model=MODEL) as connection:
        await configure(connection, "ko")
        await append(connection, dsp.tone(400.0, 0.3), chunk_ms=300)
        events = await close(connection)
        after_closed = [event async for event in connection]

    sizes = [len(base64.b64decode(e.delta)) // 2 for e in events if e.type == "session.output_audio.delta"]
    assert sizes == [4800, 2400]
    assert events[-1].type == "session.closed"
    assert after_closed == []


async def test_it_reports_bad_events_and_keeps_the_session_open(start_server: StartServer) -> None:
    server = await start_server("tone")
    async with client_for(server).realtime.translations.connect(model=MODEL) as connection:
        await configure(connection, "pt")
        await connection.session.input_audio_buffer.append(audio="not base64!", event_id="evt_bad")
        await connection.session.input_audio_buffer.append(audio=base64.b64encode(b"\x01\x02\x03").decode())
        await connection.send_raw(json.dumps({"type": "session.frobnicate"}))
        errors = [await recv(connection) for _ in range(3)]
        await append(connection, dsp.tone(400.0, 0.2), chunk_ms=200)
        events = await close(connection)

    assert [e.type for e in errors] == ["error"] * 3
    assert [(e.error.code, e.error.param) for e in errors] == [
        ("invalid_value", "audio"),
        ("invalid_value", "audio"),
        ("invalid_value", "type"),
    ]
    assert errors[0].error.event_id == "evt_bad"
    assert {e.error.type for e in errors} == {"invalid_request_error"}
    assert output_audio(events).size == 4800


async def test_it_rejects_an_unsupported_output_language(start_server: StartServer) -> None:
    server = await start_server("tone")
    async with client_for(server).realtime.translations.connect(model=MODEL) as connection:
        await recv(connection)
        await connection.session.update(session={"audio": {"output": {"language": "xx"}}})
        error = await recv(connection)
        await connection.session.update(session={"audio": {"output": {"language": "fr"}}})
        updated = await recv(connection)

    assert error.type == "error"
    assert error.error.code == "invalid_value"
    assert error.error.param == "session.audio.output.language"
    assert updated.session.audio.output.language == "fr"


async def test_it_asks_once_for_a_language_before_translating(start_server: StartServer) -> None:
    server = await start_server("tone")
    async with client_for(server).realtime.translations.connect(model=MODEL) as connection:
        await recv(connection)
        await append(connection, dsp.tone(400.0, 0.4), chunk_ms=100)
        events = await close(connection)

    assert [e.type for e in events] == ["error", "session.closed"]
    assert events[0].error.param == "session.audio.output.language"


async def test_it_refuses_a_connection_without_a_bearer_token(start_server: StartServer) -> None:
    server = await start_server()
    manager = client_for(server).realtime.translations.connect(
        model=MODEL, extra_headers={"Authorization": ""}
    )
    with pytest.raises(InvalidStatus) as refused:
        async with manager:
            pass

    assert refused.value.response.status_code == 401


async def test_it_never_logs_the_api_key(start_server: StartServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="media_workers.devtools.fake_openai.server")
    server = await start_server()
    client = AsyncOpenAI(api_key="sk-very-secret", base_url=server.base_url)
    async with client.realtime.translations.connect(model=MODEL) as connection:
        await recv(connection)

    assert "Authorization: [redacted]" in caplog.text
    assert "sk-very-secret" not in caplog.text


@pytest.mark.parametrize(
    ("model", "headers"), [("", {}), (MODEL, {"OpenAI-Beta": "realtime=v1"})], ids=["no model", "beta header"]
)
async def test_it_refuses_a_bad_upgrade_request(
    start_server: StartServer, model: str, headers: dict[str, str]
) -> None:
    server = await start_server()
    manager = client_for(server).realtime.translations.connect(model=model, extra_headers=headers)
    with pytest.raises(InvalidStatus) as refused:
        async with manager:
            pass

    assert refused.value.response.status_code == 400


async def test_it_drops_every_session_on_demand(start_server: StartServer) -> None:
    server = await start_server()
    async with client_for(server).realtime.translations.connect(model=MODEL) as connection:
        await recv(connection)
        assert await control(server, "drop") == {"dropped": 1}
        with pytest.raises(ConnectionClosedError) as closed:
            await recv(connection)

    assert closed.value.rcvd is None


async def test_the_sdk_reconnects_after_a_drop_into_a_fresh_unconfigured_session(
    start_server: StartServer,
) -> None:
    server = await start_server("tone")
    attempts: list[ReconnectingEvent] = []

    def on_reconnecting(event: ReconnectingEvent) -> None:
        attempts.append(event)

    manager = client_for(server).realtime.translations.connect(
        model=MODEL, on_reconnecting=on_reconnecting, initial_delay=0.01
    )
    async with manager as connection:
        first = await configure(connection, "es")
        await control(server, "drop")
        async with asyncio.timeout(TIMEOUT):
            after_drop: Any = await anext(aiter(connection))

    assert [attempt.close_code for attempt in attempts] == [1006]
    assert after_drop.type == "session.created"
    assert after_drop.session.id != first.session.id
    assert after_drop.session.audio.output.language is None


async def test_it_sends_an_injected_error_and_keeps_the_session_open(start_server: StartServer) -> None:
    server = await start_server("tone")
    async with client_for(server).realtime.translations.connect(model=MODEL) as connection:
        await configure(connection, "vi")
        assert await control(server, "error?code=server_error&message=Boom") == {"sent": 1}
        error = await recv(connection)
        await append(connection, dsp.tone(400.0, 0.2), chunk_ms=200)
        events = await close(connection)
    stats = await control(server, "stats")

    assert error.type == "error"
    assert (error.error.type, error.error.code, error.error.message) == (
        "server_error",
        "server_error",
        "Boom",
    )
    assert output_audio(events).size == 4800
    assert stats["recent_errors"][-1]["code"] == "server_error"


async def test_it_rejects_the_next_connections_with_503_on_demand(start_server: StartServer) -> None:
    server = await start_server()
    client = client_for(server)
    await control(server, "reject?count=1")
    with pytest.raises(InvalidStatus) as refused:
        async with client.realtime.translations.connect(model=MODEL):
            pass
    async with client.realtime.translations.connect(model=MODEL) as connection:
        created = await recv(connection)

    assert refused.value.response.status_code == 503
    assert created.type == "session.created"


async def test_it_stalls_output_on_demand(start_server: StartServer) -> None:
    server = await start_server("tone")
    async with client_for(server).realtime.translations.connect(model=MODEL) as connection:
        await configure(connection, "hi")
        await control(server, "stall?seconds=0.4")
        sent_at = time.monotonic()
        await append(connection, dsp.tone(400.0, 0.2), chunk_ms=200)
        await recv_until(connection, "session.output_audio.delta")

    assert time.monotonic() - sent_at > 0.3


async def test_it_holds_new_connections_back_on_demand(start_server: StartServer) -> None:
    server = await start_server()
    await control(server, "slow_connect?seconds=0.4")
    asked_at = time.monotonic()
    async with client_for(server).realtime.translations.connect(model=MODEL) as connection:
        assert (await recv(connection)).type == "session.created"
        connected_after = time.monotonic() - asked_at
    await control(server, "slow_connect?seconds=0")

    assert connected_after > 0.35
    assert server.connect_delay == 0


async def test_it_reports_open_sessions_in_stats(start_server: StartServer) -> None:
    server = await start_server("tone")
    async with client_for(server).realtime.translations.connect(model=MODEL) as connection:
        created = await recv(connection)
        await connection.session.update(session={"audio": {"output": {"language": "zh"}}})
        await append(connection, dsp.tone(400.0, 1.0), chunk_ms=200)
        for _ in range(5):
            await recv_until(connection, "session.output_audio.delta")
        stats = await control(server, "stats")

    assert stats["total_connections"] == 1
    assert stats["sessions"] == [
        {
            "id": created.session.id,
            "endpoint": "translations",
            "model": MODEL,
            "output_language": "zh",
            "audio_seconds_received": 1.0,
            "frames_out": 5,
        }
    ]


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.7", False),
        ("192.168.1.20", False),
        ("::ffff:10.0.0.7", False),
        ("2001:db8::1", False),
        ("localhost", False),
        ("", False),
    ],
)
def test_the_control_api_admits_only_loopback_peers(host: str, allowed: bool) -> None:
    assert is_loopback(host) is allowed


async def test_the_command_prints_its_url_serves_and_stops_on_sigterm() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "manage.py",
        "fake_openai",
        "--host=127.0.0.1",
        "--port=0",
        "--mode=echo",
        "--delay-ms=5",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(20):
            line = (await process.stdout.readline()).decode()
        base_url = re.search(r"http://127\.0\.0\.1:(\d+)/v1", line)
        assert base_url is not None, line
        stats_url = f"http://127.0.0.1:{base_url.group(1)}/_fake/stats"
        stats = await asyncio.to_thread(lambda: json.load(urllib.request.urlopen(stats_url, timeout=TIMEOUT)))
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(TIMEOUT):
            returncode = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert (stats["mode"], stats["delay_ms"]) == ("echo", 5)
    assert returncode == 0
