"""One translation session against the fake OpenAI server (in-process), through the real SDK."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from openai import AsyncOpenAI
from openai.resources.realtime.translations.translations import AsyncTranslationsConnection
from websockets.exceptions import ConnectionClosed

from media_workers.devtools.call_client import until
from media_workers.devtools.dsp import SAMPLE_RATE, ToneGenerator, dominant_frequency
from media_workers.devtools.fake_openai import TONE_FACTORS, FakeOpenAIServer
from media_workers.devtools.stack import free_port
from media_workers.runtime.translation import (
    TranslationSession,
    Usage,
    append_message,
    next_month_start,
    rotation_delay,
)
from tests.support.worker import Listener


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


async def test_it_sends_what_is_still_queued_before_the_flush_when_closed(fake: FakeOpenAIServer) -> None:
    """Closed before the send loop caught up (a loaded worker): the speaker's last words are
    still translated, not sent after the flush where the service no longer reads them."""
    listener = Listener()
    session = session_for(fake.base_url, listener)
    session.start()
    assert await until(lambda: "live" in listener.statuses, timeout=5)
    feed_tone(session, 500, 0.5)
    await session.close()
    assert await until(lambda: fake.stats()["sessions"] == [], timeout=5)
    [ended] = fake.stats()["ended_sessions"]
    assert ended["ended_by"] == "session.close"
    assert ended["audio_seconds_received"] == pytest.approx(0.5)
    assert session.usage.seconds_sent == pytest.approx(0.5)
    assert len(listener.audio) == SAMPLE_RATE  # 0.5 s of 16-bit samples: all of it translated


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


# --- Rotation before expiry -------------------------------------------------------------------

# The speaker's "words": 100 ms chunks, each a step higher than the one before, so the order in
# which the translation comes back shows whether anything was lost, repeated or reordered.
FIRST_HZ = 300.0
STEP_HZ = 25.0


async def speak(session: TranslationSession, seconds: float) -> None:
    """Feed rising tones in real time, one 100 ms chunk every 100 ms, as the call does."""
    tone = ToneGenerator(FIRST_HZ, SAMPLE_RATE, 0.3)
    start = time.monotonic()
    for index in range(round(seconds * 10)):
        tone.freq = FIRST_HZ + STEP_HZ * index
        chunk = tone.next(SAMPLE_RATE // 10).tobytes()
        session.feed(append_message(chunk), len(chunk), True)
        await asyncio.sleep(max(0.0, start + (index + 1) / 10 - time.monotonic()))


def heard_frequencies(listener: Listener) -> list[float]:
    """The frequency of each piece of translation, in the order it arrived (0 for silence)."""
    return [dominant_frequency(np.frombuffer(delta, dtype=np.int16)) or 0.0 for delta in listener.deltas]


def rising(values: list[float]) -> bool:
    return all(b > a for a, b in itertools.pairwise(values))


def came_back_after_reconnecting(listener: Listener) -> bool:
    """The translation went live again after a reconnection (a later expiry may follow it)."""
    return (
        "reconnecting" in listener.statuses
        and "live" in listener.statuses[listener.statuses.index("reconnecting") :]
    )


def control(server: FakeOpenAIServer, action: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/_fake/{action}", timeout=5) as reply:
        return json.load(reply)


@pytest.mark.parametrize(
    ("opened_at", "expires_at", "margin", "now", "delay"),
    [
        (1000.0, 4600.0, 60.0, 1000.0, 3540.0),  # an hour's session: a minute before it ends
        (1000.0, 4600.0, 60.0, 4000.0, 540.0),
        (1000.0, 4600.0, 60.0, 4590.0, -50.0),  # already due: at once
        (1000.0, 1100.0, 60.0, 1000.0, 50.0),  # margin beyond half the life: at half of it
        (1000.0, 1004.0, 1.5, 1001.0, 1.5),
    ],
)
def test_it_rotates_a_margin_before_expiry_but_not_before_half_the_life(
    opened_at: float, expires_at: float, margin: float, now: float, delay: float
) -> None:
    assert rotation_delay(opened_at=opened_at, expires_at=expires_at, margin=margin, now=now) == delay


@asynccontextmanager
async def translating(
    **fake_options: Any,
) -> AsyncIterator[tuple[FakeOpenAIServer, TranslationSession, Listener]]:
    """A fake translator with `fake_options` and a live session to it; the session is closed
    (and the fake has seen it end) when the block ends."""
    fake = FakeOpenAIServer(mode="tone", **fake_options)
    await fake.start()
    listener = Listener()
    session = session_for(fake.base_url, listener)
    session.start()
    try:
        assert await until(lambda: "live" in listener.statuses, timeout=5)
        yield fake, session, listener
        await session.close()
        assert await until(lambda: fake.stats()["sessions"] == [], timeout=5)
    finally:
        await session.close()
        await fake.stop()


async def test_it_hands_the_speaker_to_a_successor_before_expiry_losing_and_repeating_nothing(
    settings: Any,
) -> None:
    settings.TRANSLATION_ROTATE_SECONDS = 1.5
    # Sessions that expire after 3-4 s and answer 300 ms after each engine frame.
    async with translating(delay_ms=300, session_lifetime_s=3.0) as (fake, session, listener):
        await speak(session, 7.0)

    ended = fake.stats()["ended_sessions"]
    assert session.rotations >= 2
    assert len(ended) == session.rotations + 1
    # Every OpenAI session was asked to flush before it expired; none was cut off.
    assert [s["ended_by"] for s in ended] == ["session.close"] * len(ended)
    assert session.usage.reconnects == 0 and "reconnecting" not in listener.statuses
    # No chunk went to two sessions and none went nowhere: what the sessions received adds up
    # to what was spoken, and that is what the translation's one usage record says was sent.
    assert sum(s["audio_seconds_received"] for s in ended) == pytest.approx(7.0)
    assert session.usage.seconds_sent == pytest.approx(7.0)
    # Every word heard once, in order: as much translation as speech, each piece higher.
    assert len(listener.audio) == 7 * SAMPLE_RATE * 2
    assert rising(heard_frequencies(listener)), heard_frequencies(listener)
    # The successors were configured as the first one: same language, captions of the original.
    assert {s["output_language"] for s in ended} == {"fr"}
    originals = [text for kind, text in listener.transcripts if kind == "original"]
    assert len(originals) == len(listener.deltas)


async def test_it_plays_the_old_sessions_flush_before_anything_of_its_successor(settings: Any) -> None:
    settings.TRANSLATION_ROTATE_SECONDS = 3.0
    # Long enough a life for the slow flush below to end before the old session expires.
    async with translating(delay_ms=300, session_lifetime_s=6.0) as (fake, session, listener):
        speaking = asyncio.create_task(speak(session, 6.0))
        first = fake.stats()["sessions"][0]["id"]
        assert await until(lambda: session.rotations == 1, timeout=6)
        # The old session is slow to flush: its successor translates the next words first.
        await asyncio.to_thread(control, fake, f"stall?seconds=1.5&session={first}")
        await speaking

    assert [s["ended_by"] for s in fake.stats()["ended_sessions"]][:1] == ["session.close"]
    assert len(listener.audio) == 6 * SAMPLE_RATE * 2
    assert rising(heard_frequencies(listener)), heard_frequencies(listener)


@pytest.mark.parametrize(
    ("announce_expiry", "margin"),
    [(False, 1.5), (True, 0.0)],
    ids=["expires_at absent", "rotation off"],
)
async def test_it_reconnects_after_an_unannounced_expiry_and_sends_what_waited(
    settings: Any, announce_expiry: bool, margin: float
) -> None:
    settings.TRANSLATION_ROTATE_SECONDS = margin
    async with translating(session_lifetime_s=2.0, announce_expiry=announce_expiry) as (
        fake,
        session,
        listener,
    ):
        await speak(session, 5.0)
        # A session can expire on the last words: the call goes on until the translation is back
        # (closing a translation while it reconnects is another case).
        assert await until(lambda: session.status == "live", timeout=5)

    ended = fake.stats()["ended_sessions"]
    assert session.rotations == 0
    assert session.usage.reconnects >= 1
    assert came_back_after_reconnecting(listener)
    assert "expired" in [s["ended_by"] for s in ended]
    # What waited while the translation reconnected went to the new session, sent once.
    assert sum(s["audio_seconds_received"] for s in ended) == pytest.approx(session.usage.seconds_sent)
    assert session.usage.seconds_sent == pytest.approx(5.0)


async def test_it_sends_the_chunk_that_met_the_expiry_to_the_next_session(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loaded worker reads the end of an expired session late, and its sender meets the closed
    socket first: that chunk goes to the next session like the rest of what waited."""
    settings.TRANSLATION_ROTATE_SECONDS = 0.0
    receive = AsyncTranslationsConnection.recv_bytes

    async def recv_bytes_seen_late(connection: AsyncTranslationsConnection) -> bytes:
        try:
            return await receive(connection)
        except ConnectionClosed:
            # More than one 100 ms chunk of the speaker's: the sender sends into the closed socket.
            await asyncio.sleep(0.3)
            raise

    monkeypatch.setattr(AsyncTranslationsConnection, "recv_bytes", recv_bytes_seen_late)
    async with translating(session_lifetime_s=2.0) as (fake, session, listener):
        await speak(session, 5.0)
        assert await until(lambda: session.status == "live", timeout=5)

    ended = fake.stats()["ended_sessions"]
    assert "expired" in [s["ended_by"] for s in ended]
    assert session.usage.reconnects >= 1 and came_back_after_reconnecting(listener)
    assert sum(s["audio_seconds_received"] for s in ended) == pytest.approx(5.0)
    assert session.usage.seconds_sent == pytest.approx(5.0)
