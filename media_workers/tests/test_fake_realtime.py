"""The fake's `/v1/realtime` endpoint (the interpreter's), driven by the real SDK, and its turn detection."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from openai import AsyncOpenAI
from openai.resources.realtime.realtime import AsyncRealtimeConnection
from openai.types.realtime.realtime_audio_input_turn_detection_param import (
    RealtimeAudioInputTurnDetectionParam,
)

from media_workers.devtools import dsp
from media_workers.devtools.fake_openai import DEMO_PITCH_FACTOR, TONE_FACTORS, FakeOpenAIServer
from media_workers.devtools.fake_openai.turns import TurnDetector
from media_workers.runtime.interpreter import instructions

TIMEOUT = 5.0


def tone(freq: float, seconds: float) -> dsp.Pcm16:
    return dsp.ToneGenerator(freq, dsp.SAMPLE_RATE, 0.3).next(int(seconds * dsp.SAMPLE_RATE))


def silence(seconds: float) -> dsp.Pcm16:
    return np.zeros(int(seconds * dsp.SAMPLE_RATE), dtype=np.int16)


# --- Turn detection --------------------------------------------------------------------------


def test_it_ends_a_turn_after_the_silence_that_follows_speech() -> None:
    detector = TurnDetector(silence_ms=500)
    events = detector.feed(silence(0.3))
    events += detector.feed(tone(500, 1.0))
    assert [(e.kind, e.audio_ms) for e in events] == [("started", 300)]
    events = detector.feed(silence(0.6))
    assert [(e.kind, e.audio_ms) for e in events] == [("ended", 1300)]
    turn = events[0].turn
    assert turn.speech_ms == 1000
    assert all(t == pytest.approx(500, abs=5) for t in turn.tones)


def test_a_pause_shorter_than_the_silence_does_not_end_the_turn() -> None:
    detector = TurnDetector(silence_ms=500)
    events = detector.feed(np.concatenate([tone(500, 0.5), silence(0.3), tone(700, 0.5)]))
    assert [e.kind for e in events] == ["started"]
    (ended,) = detector.feed(silence(0.5))
    assert ended.kind == "ended"
    assert ended.turn.speech_ms == 1000
    assert len(ended.turn.tones) == 13  # the pause inside the turn belongs to it


def test_it_buffers_audio_across_feeds_of_any_length() -> None:
    detector = TurnDetector(silence_ms=200)
    samples = np.concatenate([tone(500, 0.5), silence(0.3)])
    events = [
        event
        for start in range(0, samples.size, 333)
        for event in detector.feed(samples[start : start + 333])
    ]
    assert [e.kind for e in events] == ["started", "ended"]


def test_a_manual_commit_needs_100_ms_of_audio() -> None:
    detector = TurnDetector()
    detector.feed(tone(500, 0.05), detect=False)
    assert detector.commit() is None
    detector.feed(tone(500, 0.1), detect=False)
    turn = detector.commit()
    assert turn is not None and turn.speech_ms == 100


# --- The endpoint ----------------------------------------------------------------------------


@pytest.fixture
async def connection(fake: FakeOpenAIServer) -> AsyncIterator[AsyncRealtimeConnection]:
    client = AsyncOpenAI(api_key="sk-test", base_url=fake.base_url)
    async with client.realtime.connect(model="gpt-realtime-2.1") as opened:
        created = await recv(opened)
        assert created.type == "session.created"
        assert created.session.type == "realtime"
        yield opened


async def recv(connection: AsyncRealtimeConnection) -> Any:
    async with asyncio.timeout(TIMEOUT):
        return await connection.recv()


async def recv_until(connection: AsyncRealtimeConnection, last_type: str) -> list[Any]:
    events = []
    async with asyncio.timeout(TIMEOUT):
        while True:
            event = await connection.recv()
            events.append(event)
            if event.type == last_type:
                return events


async def append(connection: AsyncRealtimeConnection, samples: dsp.Pcm16) -> None:
    step = dsp.SAMPLE_RATE // 10
    for start in range(0, samples.size, step):
        pcm = dsp.array_to_pcm16(samples[start : start + step])
        await connection.input_audio_buffer.append(audio=base64.b64encode(pcm).decode())


SERVER_VAD: RealtimeAudioInputTurnDetectionParam = {"type": "server_vad", "silence_duration_ms": 500}


async def interpret_into(
    connection: AsyncRealtimeConnection,
    language: str,
    turn_detection: RealtimeAudioInputTurnDetectionParam | None = SERVER_VAD,
) -> Any:
    await connection.session.update(
        session={
            "type": "realtime",
            "instructions": instructions(language),
            "output_modalities": ["audio"],
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "turn_detection": turn_detection,
                },
                "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"},
            },
        }
    )
    updated = await recv(connection)
    assert updated.type == "session.updated", updated
    return updated


def response_audio(events: list[Any]) -> dsp.Pcm16:
    deltas = [e.delta for e in events if e.type == "response.output_audio.delta"]
    return dsp.pcm16_to_array(b"".join(base64.b64decode(delta) for delta in deltas))


async def test_it_answers_a_turn_in_the_instructed_language_once_the_turn_ends(
    connection: AsyncRealtimeConnection,
) -> None:
    await interpret_into(connection, "tr")
    await append(connection, np.concatenate([tone(500, 1.0), silence(0.6)]))
    events = await recv_until(connection, "response.done")
    kinds = [e.type for e in events]
    assert kinds[:3] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
    ]
    # Nothing of the answer comes before the turn has ended.
    assert kinds.index("response.created") > kinds.index("input_audio_buffer.speech_stopped")
    audio = response_audio(events)
    assert audio.size == dsp.SAMPLE_RATE
    assert dsp.dominant_frequency(audio) == pytest.approx(500 * TONE_FACTORS["tr"], abs=5)
    transcript = "".join(e.delta for e in events if e.type == "response.output_audio_transcript.delta")
    assert transcript == f"[tone {500 * TONE_FACTORS['tr']:.0f} Hz] "
    usage = events[-1].response.usage
    assert usage.input_token_details.audio_tokens == 10
    assert usage.output_token_details.audio_tokens == 20
    assert usage.input_token_details.text_tokens == -(-len(instructions("tr")) // 4)
    assert usage.output_token_details.text_tokens == -(-len(transcript) // 4)
    assert usage.input_tokens + usage.output_tokens == usage.total_tokens


async def test_it_bills_the_whole_conversation_as_input_until_items_are_deleted(
    connection: AsyncRealtimeConnection,
) -> None:
    await interpret_into(connection, "pl")
    await append(connection, np.concatenate([tone(500, 1.0), silence(0.6)]))
    first = await recv_until(connection, "response.done")
    await append(connection, np.concatenate([tone(600, 1.0), silence(0.6)]))
    second = await recv_until(connection, "response.done")
    # The second turn's input: the first turn (10), its answer (20) and itself (10).
    assert second[-1].response.usage.input_token_details.audio_tokens == 40
    for item_id in [e.item.id for e in first + second if e.type == "conversation.item.added"][:3]:
        await connection.conversation.item.delete(item_id=item_id)
        deleted = await recv(connection)
        assert (deleted.type, deleted.item_id) == ("conversation.item.deleted", item_id)
    await append(connection, np.concatenate([tone(700, 1.0), silence(0.6)]))
    third = await recv_until(connection, "response.done")
    # Only the second turn's answer (20) is left, and the third turn itself (10).
    assert third[-1].response.usage.input_token_details.audio_tokens == 30


async def test_it_answers_a_manual_commit_only_when_asked(connection: AsyncRealtimeConnection) -> None:
    await interpret_into(connection, "sw", turn_detection=None)
    await append(connection, np.concatenate([tone(500, 0.5), silence(1.0)]))
    await connection.input_audio_buffer.commit()
    committed = await recv(connection)
    assert committed.type == "input_audio_buffer.committed"
    await connection.response.create()
    events = await recv_until(connection, "response.done")
    assert dsp.dominant_frequency(response_audio(events)) == pytest.approx(500 * TONE_FACTORS["sw"], abs=5)


@pytest.mark.parametrize(
    ("event", "code", "param"),
    [
        (
            {"type": "session.update", "session": {"instructions": "x"}},
            "missing_required_parameter",
            "session.type",
        ),
        ({"type": "session.update", "session": {"type": "translation"}}, "invalid_value", "session.type"),
        (
            {"type": "session.update", "session": {"type": "realtime", "temperature": 0.8}},
            "unknown_parameter",
            "session.temperature",
        ),
        (
            {
                "type": "session.update",
                "session": {"type": "realtime", "audio": {"input": {"turn_detection": {"type": "vad"}}}},
            },
            "invalid_value",
            "session.audio.input.turn_detection.type",
        ),
        (
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 2}}},
                },
            },
            "invalid_value",
            "session.audio.input.turn_detection.threshold",
        ),
        (
            {
                "type": "session.update",
                "session": {"type": "realtime", "output_modalities": ["text", "audio"]},
            },
            "invalid_value",
            "session.output_modalities",
        ),
        ({"type": "session.close"}, "invalid_value", "type"),
        ({"type": "session.input_audio_buffer.append", "audio": ""}, "invalid_value", "type"),
        ({"type": "conversation.item.create", "item": {}}, "not_implemented", "type"),
        ({"type": "conversation.item.delete", "item_id": "item_nope"}, "invalid_value", "item_id"),
        ({"type": "input_audio_buffer.commit"}, "input_audio_buffer_commit_empty", None),
        ({"type": "input_audio_buffer.append", "audio": "not base64!"}, "invalid_value", "audio"),
    ],
)
async def test_it_refuses_what_the_real_api_refuses_and_stays_open(
    connection: AsyncRealtimeConnection, event: dict[str, Any], code: str, param: str | None
) -> None:
    await connection.send_raw(json.dumps({**event, "event_id": "evt_1"}))
    error = await recv(connection)
    assert error.type == "error", error
    assert (error.error.code, error.error.param, error.error.event_id) == (code, param, "evt_1")
    await interpret_into(connection, "tr")


async def test_in_demo_mode_it_answers_a_turn_with_the_speakers_voice_pitch_shifted() -> None:
    server = FakeOpenAIServer(mode="demo")
    await server.start()
    try:
        client = AsyncOpenAI(api_key="sk-test", base_url=server.base_url)
        async with client.realtime.connect(model="gpt-realtime-2.1") as connection:
            assert (await recv(connection)).type == "session.created"
            await interpret_into(connection, "ar")
            await append(connection, np.concatenate([tone(500, 1.0), silence(0.6)]))
            events = await recv_until(connection, "response.done")
    finally:
        await server.stop()
    audio = response_audio(events)
    assert audio.size == dsp.SAMPLE_RATE
    assert dsp.dominant_frequency(audio[-4800:]) == pytest.approx(500 * DEMO_PITCH_FACTOR, abs=10)
    transcript = "".join(e.delta for e in events if e.type == "response.output_audio_transcript.delta")
    assert "demo translation to العربية" in transcript
