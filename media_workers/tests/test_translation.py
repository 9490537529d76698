"""One translation session against the fake OpenAI server (in-process), through the real SDK."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from openai import AsyncOpenAI

from media_workers.call_client import until
from media_workers.dsp import SAMPLE_RATE, ToneGenerator, dominant_frequency
from media_workers.fake_openai import TONE_FACTORS, FakeOpenAIServer
from media_workers.stack import free_port
from media_workers.translation import TranslationSession, Usage, append_message, next_month_start


class Listener:
    """Collects what a session hands the call."""

    def __init__(self) -> None:
        self.audio = bytearray()
        self.transcripts: list[tuple[str, str]] = []
        self.statuses: list[str] = []

    def on_translated_audio(self, session: TranslationSession, pcm: bytes) -> None:
        self.audio += pcm

    def on_transcript(self, session: TranslationSession, *, kind: str, text: str) -> None:
        self.transcripts.append((kind, text))

    def on_session_status(self, session: TranslationSession, status: str, detail: str) -> None:
        self.statuses.append(status)


def session_for(base_url: str, listener: Listener, **options: Any) -> TranslationSession:
    return TranslationSession(
        client=AsyncOpenAI(api_key="test", base_url=base_url, max_retries=0),
        room_id="room",
        speaker_id="speaker",
        language="fr",
        listener=listener,
        transcribe_input=True,
        chunk_ms=100,
        **options,
    )


def feed_tone(session: TranslationSession, freq: float, seconds: float) -> None:
    tone = ToneGenerator(freq, SAMPLE_RATE, 0.3)
    for _ in range(int(seconds * 10)):
        chunk = tone.next(SAMPLE_RATE // 10).tobytes()
        session.feed(append_message(chunk), len(chunk), True)


async def test_it_translates_a_speaker_into_its_language(fake: FakeOpenAIServer) -> None:
    listener = Listener()
    session = session_for(fake.base_url, listener)
    session.start()
    try:
        assert await until(lambda: "live" in listener.statuses, timeout=5)
        feed_tone(session, 500, 1.0)
        assert await until(lambda: len(listener.audio) >= SAMPLE_RATE, timeout=5)
        heard = np.frombuffer(bytes(listener.audio[: SAMPLE_RATE * 2]), dtype=np.int16)
        assert dominant_frequency(heard[-4800:]) == pytest.approx(500 * TONE_FACTORS["fr"], abs=5)
        assert any(kind == "translation" and "Hz" in text for kind, text in listener.transcripts)
        assert any(kind == "original" for kind, _ in listener.transcripts)
    finally:
        await session.close()
    assert session.usage.seconds_sent == pytest.approx(1.0)
    assert session.usage.seconds_received >= 0.8
    assert session.usage.ended_at is not None


async def test_it_keeps_only_a_bounded_backlog_while_the_service_is_unreachable() -> None:
    listener = Listener()
    ended: list[tuple[TranslationSession, Usage]] = []
    session = session_for(
        f"http://127.0.0.1:{free_port()}/v1", listener, on_usage=lambda s, u: ended.append((s, u))
    )
    session.start()
    try:
        feed_tone(session, 500, 60.0)
        assert len(session._pending) <= 20  # about MAX_PENDING_SECONDS of 100 ms chunks
        assert await until(lambda: session.usage.reconnects >= 2, timeout=10)
        assert "reconnecting" in listener.statuses
        assert listener.audio == b""
    finally:
        await session.close()
    assert ended == [(session, session.usage)]


async def test_it_flushes_and_waits_for_session_closed_when_closed(fake: FakeOpenAIServer) -> None:
    listener = Listener()
    session = session_for(fake.base_url, listener)
    session.start()
    assert await until(lambda: "live" in listener.statuses, timeout=5)
    # 150 ms: less than one 200 ms engine frame, translated only when the close flushes it.
    tone = ToneGenerator(500, SAMPLE_RATE, 0.3).next(SAMPLE_RATE * 15 // 100).tobytes()
    session.feed(append_message(tone), len(tone), True)
    await asyncio.sleep(0.2)
    assert listener.audio == b""
    await session.close()
    assert len(listener.audio) > 0
    assert await until(lambda: fake.stats()["sessions"] == [], timeout=5)


def test_it_knows_when_the_next_month_starts() -> None:
    assert next_month_start(datetime(2026, 1, 31, 23, 59, tzinfo=UTC).timestamp()) == (
        datetime(2026, 2, 1, tzinfo=UTC).timestamp()
    )
    assert next_month_start(datetime(2026, 12, 1, tzinfo=UTC).timestamp()) == (
        datetime(2027, 1, 1, tzinfo=UTC).timestamp()
    )


async def test_it_splits_a_session_that_runs_into_a_new_month(fake: FakeOpenAIServer) -> None:
    """Each month is charged what was sent in it: the new month's quota sees its part."""
    listener = Listener()
    ended: list[Usage] = []
    boundary = datetime(2026, 2, 1, tzinfo=UTC).timestamp()
    now = [boundary - 30.0]
    session = session_for(
        fake.base_url, listener, payer_id=7, clock=lambda: now[0], on_usage=lambda s, u: ended.append(u)
    )
    session.start()
    try:
        assert await until(lambda: "live" in listener.statuses, timeout=5)
        feed_tone(session, 500, 0.5)
        assert await until(lambda: session.usage.seconds_sent == pytest.approx(0.5), timeout=5)
        january = session.usage
        now[0] = boundary + 0.5
        feed_tone(session, 500, 1.0)
        assert await until(lambda: session.usage is not january, timeout=5)
        assert await until(lambda: session.usage.seconds_sent == pytest.approx(1.0), timeout=5)
        assert ended == [january]
        assert january.seconds_sent == pytest.approx(0.5)
        assert (january.started_at, january.ended_at) == (boundary - 30.0, boundary)
        now[0] = boundary + 2.0
    finally:
        await session.close()
    february = ended[-1]
    assert ended == [january, february] and february is session.usage
    assert february.id != january.id
    assert february.seconds_sent == pytest.approx(1.0)
    assert (february.started_at, february.ended_at) == (boundary, boundary + 2.0)
