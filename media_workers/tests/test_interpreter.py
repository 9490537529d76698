"""The interpreter session (a general realtime model, turn-based) against the fake `/v1/realtime`."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import numpy as np
import pytest
from openai import AsyncOpenAI

from media_workers.devtools.call_client import until
from media_workers.devtools.dsp import SAMPLE_RATE, ToneGenerator, dominant_frequency
from media_workers.devtools.fake_openai import TONE_FACTORS, FakeOpenAIServer
from media_workers.runtime.interpreter import InterpreterSession, instructions, usage_tokens
from media_workers.runtime.playout import PlayoutBuffer
from media_workers.runtime.translation import TranslationSession, Usage, append_message
from tests.support.worker import Listener


def interpreter_for(fake: FakeOpenAIServer, listener: Listener, **options: Any) -> InterpreterSession:
    return InterpreterSession(
        client=AsyncOpenAI(api_key="test", base_url=fake.base_url, max_retries=0),
        room_id="room",
        speaker_id="speaker",
        language="tr",
        listener=listener,
        transcribe_input=True,
        chunk_ms=100,
        **options,
    )


def speak(session: InterpreterSession, freq: float | None, seconds: float) -> None:
    """`seconds` of a tone (or of silence) into the session, in 100 ms chunks."""
    tone = ToneGenerator(freq or 440.0, SAMPLE_RATE, 0.3)
    for _ in range(round(seconds * 10)):
        samples = tone.next(SAMPLE_RATE // 10) if freq else np.zeros(SAMPLE_RATE // 10, dtype=np.int16)
        chunk = samples.tobytes()
        session.feed(append_message(chunk), len(chunk), freq is not None)


def fake_sessions(fake: FakeOpenAIServer) -> list[dict[str, Any]]:
    return fake.stats()["sessions"]  # type: ignore[no-any-return]


def received(fake: FakeOpenAIServer) -> float:
    return float(sum(s["audio_seconds_received"] for s in fake_sessions(fake)))


async def test_it_answers_each_turn_in_the_listener_language_only_after_it_ends(
    fake: FakeOpenAIServer,
) -> None:
    listener = Listener()
    session = interpreter_for(fake, listener)
    session.start()
    try:
        assert await until(lambda: "live" in listener.statuses, timeout=5)
        speak(session, 500, 1.0)
        assert await until(lambda: received(fake) >= 1.0, timeout=5)
        # The speaker has not paused yet: nothing comes back mid-sentence.
        assert listener.audio == b""
        speak(session, None, 0.8)
        assert await until(lambda: len(listener.audio) >= SAMPLE_RATE, timeout=5)
        heard = np.frombuffer(bytes(listener.audio), dtype=np.int16)
        assert dominant_frequency(heard[-4800:]) == pytest.approx(500 * TONE_FACTORS["tr"], abs=5)
        assert f"[tone {500 * TONE_FACTORS['tr']:.0f} Hz]" in "".join(
            text for kind, text in listener.transcripts if kind == "translation"
        )
        assert any(kind == "original" and "500 Hz" in text for kind, text in listener.transcripts)
        assert await until(lambda: session.usage.tokens.get("output_audio", 0) > 0, timeout=5)
    finally:
        await session.close()
    assert "error" not in listener.statuses
    assert session.model == "gpt-realtime-2.1"
    # 1 s of the turn in, as user audio (1 token per 100 ms); 1 s out (1 per 50 ms).
    assert session.usage.tokens["input_audio"] == 10
    assert session.usage.tokens["output_audio"] == 20
    assert session.usage.tokens["input_text"] > 0
    assert session.usage.seconds_sent == pytest.approx(1.8)


async def test_it_keeps_no_conversation_beyond_the_last_turn(fake: FakeOpenAIServer) -> None:
    listener = Listener()
    session = interpreter_for(fake, listener)
    session.start()
    try:
        assert await until(lambda: "live" in listener.statuses, timeout=5)
        for turn, freq in enumerate((500, 600, 700, 800), start=1):
            speak(session, freq, 0.5)
            speak(session, None, 0.8)

            def answered(n: int = turn) -> bool:
                # Answered, and the old items' deletions (which follow the response) are through.
                stats = fake_sessions(fake)[0]
                return bool(stats["responses"] == n and stats["conversation_items"] <= 2)

            assert await until(answered, timeout=5)
        stats = fake_sessions(fake)[0]
    finally:
        await session.close()
    assert "error" not in listener.statuses
    assert stats["conversation_items"] == 2
    # A turn's input is its own 0.5 s (5 tokens) and at most the turn before it and its answer
    # (5 + 10): 5 + 20 + 20 + 20. A growing conversation would have cost 5 + 20 + 35 + 50.
    assert session.usage.tokens["input_audio"] == 65


async def test_it_translates_the_turn_being_spoken_when_it_closes(fake: FakeOpenAIServer) -> None:
    listener = Listener()
    ended: list[Usage] = []
    session = interpreter_for(fake, listener, on_usage=lambda s, u: ended.append(u))
    session.start()
    assert await until(lambda: "live" in listener.statuses, timeout=5)
    speak(session, 500, 1.0)
    assert await until(lambda: received(fake) >= 1.0, timeout=5)
    await session.close()
    heard = np.frombuffer(bytes(listener.audio), dtype=np.int16)
    assert heard.size >= SAMPLE_RATE * 0.9
    assert dominant_frequency(heard[-4800:]) == pytest.approx(500 * TONE_FACTORS["tr"], abs=5)
    assert "error" not in listener.statuses
    assert ended and ended[-1].tokens["output_audio"] > 0


async def test_it_closes_at_once_when_nothing_is_owed(fake: FakeOpenAIServer) -> None:
    listener = Listener()
    session = interpreter_for(fake, listener)
    session.start()
    assert await until(lambda: "live" in listener.statuses, timeout=5)
    await session.close()
    assert await until(lambda: fake_sessions(fake) == [], timeout=5)
    assert "error" not in listener.statuses


def test_its_instructions_name_the_language_and_forbid_answering() -> None:
    text = instructions("tr")
    assert "into Turkish" in text
    assert "Never answer" in text
    assert "not an assistant" in text


def test_its_session_uses_server_vad_that_never_cuts_a_translation_off(fake: FakeOpenAIServer) -> None:
    config = interpreter_for(fake, Listener())._session_config()
    assert config["type"] == "realtime"
    assert config["output_modalities"] == ["audio"]
    turns = config["audio"]["input"]["turn_detection"]
    assert turns["type"] == "server_vad"
    assert turns["create_response"] is True
    assert turns["interrupt_response"] is False
    assert config["instructions"] == instructions("tr")


def test_it_reads_token_classes_from_the_usage_of_response_done() -> None:
    usage = {
        "input_tokens": 130,
        "output_tokens": 45,
        "input_token_details": {
            "text_tokens": 100,
            "audio_tokens": 30,
            "cached_tokens": 70,
            "cached_tokens_details": {"text_tokens": 60, "audio_tokens": 10},
        },
        "output_token_details": {"text_tokens": 5, "audio_tokens": 40},
    }
    assert usage_tokens(usage) == {
        "input_text": 40,
        "input_audio": 20,
        "cached_text": 60,
        "cached_audio": 10,
        "output_text": 5,
        "output_audio": 40,
    }
    assert set(usage_tokens({}).values()) == {0}


async def test_a_long_turn_is_no_stall_but_an_answer_that_never_comes_is(
    fake: FakeOpenAIServer, settings: Any
) -> None:
    settings.TRANSLATION_STALL_SECONDS = 1.0
    listener = Listener()
    session = interpreter_for(fake, listener)
    session.start()
    try:
        assert await until(lambda: "live" in listener.statuses, timeout=5)
        # Three seconds of one sentence: the server is silent all along, and that is fine.
        # (A second at a time: the session keeps only about two seconds of backlog.)
        for second in (1.0, 2.0, 3.0):
            speak(session, 500, 1.0)

            def sent(n: float = second) -> bool:
                return received(fake) >= n

            assert await until(sent, timeout=5)
        await asyncio.sleep(1.5)
        assert "reconnecting" not in listener.statuses
        # The sentence ends, and the server says nothing more for longer than the stall limit.
        fake.stalled_until = time.monotonic() + 30
        speak(session, None, 0.8)
        assert await until(lambda: "reconnecting" in listener.statuses, timeout=10)
    finally:
        fake.stalled_until = 0.0
        await session.close()


async def test_it_hands_over_to_a_successor_before_expiry_and_every_sentence_is_still_heard(
    settings: Any,
) -> None:
    settings.TRANSLATION_ROTATE_SECONDS = 1.5
    fake = FakeOpenAIServer(mode="tone", session_lifetime_s=3.0)
    await fake.start()
    listener = Listener()
    session = interpreter_for(fake, listener)
    session.start()
    tones = [400.0 + 50 * n for n in range(6)]
    try:
        assert await until(lambda: "live" in listener.statuses, timeout=5)
        # Six sentences of 0.5 s, each followed by 0.7 s of quiet, fed in real time.
        start = time.monotonic()
        for index, freq in enumerate(tones):
            speak(session, freq, 0.5)
            speak(session, None, 0.7)
            await asyncio.sleep(max(0.0, start + 1.2 * (index + 1) - time.monotonic()))
        await session.close()
    finally:
        await session.close()
        await fake.stop()

    ended = fake.stats()["ended_sessions"]
    assert session.rotations >= 2
    # None ran into its expiry, and nothing failed on the way.
    assert "expired" not in [s["ended_by"] for s in ended]
    assert session.usage.reconnects == 0 and "error" not in listener.statuses
    assert session.usage.seconds_sent == pytest.approx(1.2 * len(tones))
    # Every sentence was heard in Turkish, in order (one cut by a hand-over comes in two parts).
    heard = [
        round(float(match))
        for match in re.findall(
            r"\[tone (\d+) Hz\]",
            "".join(text for kind, text in listener.transcripts if kind == "translation"),
        )
    ]
    expected = [round(freq * TONE_FACTORS["tr"]) for freq in tones]
    assert [f for i, f in enumerate(heard) if i == 0 or f != heard[i - 1]] == expected


class PlayingListener(Listener):
    """A listener whose translation goes through a playout buffer drained at real time, as in a call."""

    def __init__(self) -> None:
        super().__init__()
        self.buffer = PlayoutBuffer(max_ms=3000)

    def on_translated_audio(self, session: TranslationSession, pcm: bytes) -> None:
        super().on_translated_audio(session, pcm)
        self.buffer.push(pcm)

    async def play(self) -> None:
        start = time.monotonic()
        frames = 0
        while True:
            self.buffer.pull(SAMPLE_RATE // 50)
            frames += 1
            await asyncio.sleep(max(0.0, start + frames / 50 - time.monotonic()))


async def test_it_hands_on_a_long_answer_no_faster_than_it_plays(fake: FakeOpenAIServer) -> None:
    listener = PlayingListener()
    player = asyncio.create_task(listener.play())
    session = interpreter_for(fake, listener)
    session.start()
    try:
        assert await until(lambda: "live" in listener.statuses, timeout=5)
        # A 4-second sentence: its answer comes in one burst, longer than the playout buffer.
        for second in (1.0, 2.0, 3.0, 4.0):
            speak(session, 500, 1.0)

            def sent(n: float = second) -> bool:
                return received(fake) >= n

            assert await until(sent, timeout=5)
        speak(session, None, 0.8)
        assert await until(lambda: len(listener.audio) >= 4 * SAMPLE_RATE * 2, timeout=10)
    finally:
        await session.close()
        player.cancel()
    # All of it was played: none of it was pushed out of the buffer unheard.
    assert listener.buffer.overrun_samples == 0
    assert listener.buffer.samples_in == 4 * SAMPLE_RATE
