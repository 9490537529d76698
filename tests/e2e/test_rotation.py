"""A call longer than OpenAI's sessions: every few seconds each translation moves to a new one.

The fake translator expires every session `LIFETIME` seconds after it opened (an `error` with
code `session_expired`, then close 1001, as OpenAI does at its 15-60 minute limit) and answers
`ANSWER_DELAY_MS` after each 200 ms engine frame, as the real model does. Alice speaks a steady
tone; what Bruno's client receives is cut into 20 ms blocks, and a block without Alice's
translated tone is a gap. The same call without rotation (`TRANSLATION_ROTATE_SECONDS=0`, the
behaviour before it existed) shows what the measurement catches.

    ./scripts/test tests/e2e/test_rotation.py -s   # prints the longest gap of each run
"""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from channels.db import database_sync_to_async

from media_workers.devtools.call_client import until
from media_workers.devtools.dsp import SAMPLE_RATE
from media_workers.devtools.fake_openai import TONE_FACTORS
from media_workers.devtools.stack import Stack
from rooms.models import Room
from tests.support.calls import HEARS, eventually, participant, share, usage_rows
from tests.support.people import Person
from tests.support.rooms import make_room
from tests.support.stack import running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ALICE = Person("alice@example.com", "Alice", "en")
BRUNO = Person("bruno@example.com", "Bruno", "es")
ALICE_HZ = 400.0
ALICE_IN_SPANISH = ALICE_HZ * TONE_FACTORS["es"]

LIFETIME = 8.0
ROTATE_SECONDS = 3.0
ANSWER_DELAY_MS = 1500
# Long enough for each translation to run through several sessions (one every 5-6 s).
LISTEN_SECONDS = 24.0
ENGINE_FRAME_SECONDS = 0.2
BLOCK = SAMPLE_RATE // 50
# Allowance for the first audio reaching OpenAI after a join (ICE, the translator's connection).
SLACK = 1.5


def rotating_stack(rotate_seconds: float) -> AbstractContextManager[Stack]:
    return running_stack(
        fake_mode="tone",
        fake_delay_ms=ANSWER_DELAY_MS,
        fake_session_lifetime=LIFETIME,
        celery=True,
        extra_env={"TRANSLATION_ROTATE_SECONDS": str(rotate_seconds), "USAGE_REPORT_SECONDS": "1"},
    )


def tone_present(audio: npt.NDArray[np.int16], freq: float) -> npt.NDArray[np.bool_]:
    """For each 20 ms block of `audio`: is `freq` there at half its usual level or more?"""
    blocks = audio[: audio.size // BLOCK * BLOCK].reshape(-1, BLOCK).astype(np.float64)
    phasor = np.exp(-2j * np.pi * freq * np.arange(BLOCK) / SAMPLE_RATE)
    level = np.abs(blocks @ phasor) * 2 / BLOCK
    return level > np.percentile(level, 90) / 2  # type: ignore[no-any-return]


def longest_gap(present: npt.NDArray[np.bool_]) -> float:
    """Seconds of the longest run of blocks without the tone."""
    longest = run = 0
    for block_present in present:
        run = 0 if block_present else run + 1
        longest = max(longest, run)
    return longest * BLOCK / SAMPLE_RATE


def gaps_ms(measured: Measured) -> str:
    return ", ".join(f"{gap * 1000:.0f} ms" for gap in measured.gaps)


@dataclass
class Measured:
    # The longest gap around each session end while Bruno listened, in order.
    gaps: list[float]
    # How long both were in the call: at least, at most (Bruno's join took a while).
    in_call: tuple[float, float]
    room: Room
    # The fake translator's sessions into Spanish (Alice's translation), as each ended.
    sessions: list[dict[str, Any]]


async def measure_call(stack: Stack) -> Measured:
    """Alice talks to Bruno for LISTEN_SECONDS; the gaps in what Bruno hears of her at each
    end of a session (from when it ends or is asked to, until its successor is surely heard)."""
    room = await database_sync_to_async(make_room)(ALICE, BRUNO)
    async with (
        participant(stack, ALICE, room.public_id, ALICE_HZ) as alice,
        participant(stack, BRUNO, room.public_id, 1000, join=False) as bruno,
    ):
        # The translations start while Bruno joins: somewhere between these two moments.
        joining = time.monotonic()
        await bruno.join()
        joined = time.monotonic()
        assert await until(lambda: share(bruno, ALICE_IN_SPANISH) > HEARS)
        listening = time.monotonic()
        await asyncio.sleep(LISTEN_SECONDS)
        present = tone_present(bruno.heard.audio(since=listening), ALICE_IN_SPANISH)
        await alice.leave()
        left = time.monotonic()

    def all_ended() -> bool:
        return bool(json.loads(stack.fake_control("stats"))["sessions"] == [])

    # Both translations flush (their last answers take ANSWER_DELAY_MS) though Bruno left at once.
    assert await eventually(all_ended, timeout=15)
    stats = json.loads(await asyncio.to_thread(stack.fake_control, "stats"))
    sessions = [s for s in stats["ended_sessions"] if s["output_language"] == "es"]
    # Session ends as seconds into the listening, on this machine's clock like the audio's.
    listening_at = time.time() - (time.monotonic() - listening)
    blocks_per_second = SAMPLE_RATE / BLOCK
    gaps = []
    for session in sessions:
        since = session["ended_at"] - listening_at
        until_heard = since + ANSWER_DELAY_MS / 1000 + 1.0
        if since >= 0 and until_heard <= LISTEN_SECONDS:
            gaps.append(
                longest_gap(present[int(since * blocks_per_second) : int(until_heard * blocks_per_second)])
            )
    return Measured(gaps, (left - joined, left - joining), room, sessions)


async def test_it_moves_a_long_call_to_new_sessions_without_a_gap_or_extra_cost() -> None:
    with rotating_stack(ROTATE_SECONDS) as stack:
        measured = await measure_call(stack)
        print(f"\nrotation {ROTATE_SECONDS} s before expiry, gaps at each: {gaps_ms(measured)}")

        # Several rotations happened while Bruno listened, and he heard no gap at any of them.
        assert len(measured.gaps) >= 3
        assert max(measured.gaps) <= ENGINE_FRAME_SECONDS
        # Every session was asked to flush; none expired.
        assert {s["ended_by"] for s in measured.sessions} == {"session.close"}

        def final_rows() -> bool:
            rows = usage_rows(measured.room)
            return len(rows) == 2 and all(row.final for row in rows)

        assert await eventually(final_rows)
        # One usage record per translation, across its sessions: what they received, each
        # chunk once, and that is the length of the call.
        (row,) = [
            row for row in await database_sync_to_async(usage_rows)(measured.room) if row.language == "es"
        ]
        received = sum(s["audio_seconds_received"] for s in measured.sessions)
        assert row.seconds_sent == pytest.approx(received, abs=0.01)
        # All of it was translated and came back: nothing was lost in a session's end.
        assert row.seconds_received == pytest.approx(row.seconds_sent, abs=0.01)
        shortest, longest = measured.in_call
        assert shortest - SLACK <= row.seconds_sent <= longest


async def test_without_rotation_the_listener_hears_a_gap_at_each_expiry() -> None:
    with rotating_stack(0.0) as stack:
        measured = await measure_call(stack)
        # Reported every second: a final report may be missing if a close was cut short.
        assert await eventually(lambda: len(usage_rows(measured.room)) == 2)
        rows = await database_sync_to_async(usage_rows)(measured.room)
    lost = ", ".join(f"{row.seconds_sent - row.seconds_received:.1f} s" for row in rows)
    print(f"\nno rotation, gaps at each expiry: {gaps_ms(measured)}; translated audio lost: {lost}")

    assert len(measured.gaps) >= 2
    assert {s["ended_by"] for s in measured.sessions[:-1]} == {"expired"}
    assert min(measured.gaps) > 2 * ENGINE_FRAME_SECONDS
