"""What one participant can make the service spend, end to end: real daphne, media worker,
Redis and aiortc; only OpenAI is faked, and the fake counts the sessions it is asked for.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from channels.db import database_sync_to_async

from media_workers.devtools.call_client import until
from media_workers.devtools.fake_openai import TONE_FACTORS
from media_workers.devtools.stack import Stack
from tests.support.calls import HEARS, participant, share
from tests.support.people import Person
from tests.support.rooms import make_room
from tests.support.stack import running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ALICE = Person("alice@example.com", "Alice", "en")
BRUNO = Person("bruno@example.com", "Bruno", "es")
CHLOE = Person("chloe@example.com", "Chloé", "fr")

MUTED_CLOSE_SECONDS = 2.0
LANGUAGE_CHANGE_SECONDS = 3.0


@pytest.fixture(scope="module")
def stack(django_db_setup: None) -> Iterator[Stack]:
    env = {
        "MAX_PARTICIPANTS_PER_CALL": "2",
        "MUTED_SESSION_CLOSE_SECONDS": str(MUTED_CLOSE_SECONDS),
        "LANGUAGE_CHANGE_INTERVAL_SECONDS": str(LANGUAGE_CHANGE_SECONDS),
    }
    with running_stack(fake_mode="tone", extra_env=env) as running:
        yield running


async def stats(stack: Stack) -> dict[str, Any]:
    return json.loads(await asyncio.to_thread(stack.fake_control, "stats"))  # type: ignore[no-any-return]


async def session_into(stack: Stack, language: str) -> dict[str, Any] | None:
    sessions = [s for s in (await stats(stack))["sessions"] if s["output_language"] == language]
    return sessions[0] if sessions else None


async def eventually(check: Any, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.1)
    return False


async def test_it_opens_a_handful_of_sessions_for_a_listener_flipping_languages_20_times_a_second(
    stack: Stack,
) -> None:
    room = await database_sync_to_async(make_room)(ALICE, BRUNO)
    async with (
        participant(stack, ALICE, room.public_id, 400),
        participant(stack, BRUNO, room.public_id, 1000) as bruno,
    ):
        assert await until(lambda: share(bruno, 400 * TONE_FACTORS["es"]) > HEARS)
        before = (await stats(stack))["total_connections"]
        languages = ["de", "fr", "ja", "it", "pt"]
        flips = 80
        started = time.monotonic()
        for flip in range(flips):
            await bruno.set_language(languages[flip % len(languages)])
            await asyncio.sleep(0.05)
        flipping = time.monotonic() - started
        last = languages[(flips - 1) % len(languages)]

        # The last change wins, once the pace allows it.
        assert await until(
            lambda: share(bruno, 400 * TONE_FACTORS[last], seconds=0.6) > HEARS,
            timeout=LANGUAGE_CHANGE_SECONDS + 10,
        )
        opened = (await stats(stack))["total_connections"] - before
        # The first change at once, one per interval while flipping, and the last one: a handful
        # (3 or 4 when the flipping takes its 4 s), not one per flip.
        assert opened <= 2 + flipping / LANGUAGE_CHANGE_SECONDS, (opened, flipping)
        assert not [m for m in bruno.heard.messages if m.get("code") == "rate_limited"]


async def test_it_closes_a_muted_speakers_translation_and_reopens_it_without_losing_the_first_words(
    stack: Stack,
) -> None:
    room = await database_sync_to_async(make_room)(ALICE, BRUNO)
    async with (
        participant(stack, ALICE, room.public_id, 400) as alice,
        participant(stack, BRUNO, room.public_id, 1000) as bruno,
    ):
        alice_in_spanish = 400 * TONE_FACTORS["es"]
        assert await until(lambda: share(bruno, alice_in_spanish) > HEARS)
        spanish = await session_into(stack, "es")
        assert spanish is not None

        await alice.mute(True)
        assert await eventually(lambda: _no_session_into(stack, "es"), timeout=MUTED_CLOSE_SECONDS + 10), (
            await stats(stack)
        )
        # Closed at OpenAI (session.close), so nothing more is metered; Bruno's voice is still
        # translated for Alice.
        assert [
            s["ended_by"] for s in (await stats(stack))["ended_sessions"] if s["id"] == spanish["id"]
        ] == ["session.close"]
        assert await session_into(stack, "en") is not None
        state = [m for m in alice.heard.messages if m["type"] == "state"][-1]
        assert [s["language"] for s in state["sessions"]] == ["en"]

        # The new session takes 1.5 s to connect: what Alice says meanwhile must reach it too.
        await asyncio.to_thread(stack.fake_control, "slow_connect?seconds=1.5")
        try:
            await alice.mute(False)
            unmuted = time.monotonic()
            assert await eventually(lambda: _has_session_into(stack, "es"))
        finally:
            await asyncio.to_thread(stack.fake_control, "slow_connect?seconds=0")
        await asyncio.sleep(1.0)
        session = await session_into(stack, "es")
        elapsed = time.monotonic() - unmuted
        assert session is not None
        assert session["audio_seconds_received"] > elapsed - 0.75, (session, elapsed)
        assert await until(lambda: share(bruno, alice_in_spanish) > HEARS)


async def _no_session_into(stack: Stack, language: str) -> bool:
    return await session_into(stack, language) is None


async def _has_session_into(stack: Stack, language: str) -> bool:
    return await session_into(stack, language) is not None


async def test_it_refuses_one_person_more_than_the_call_takes(stack: Stack) -> None:
    room = await database_sync_to_async(make_room)(ALICE, BRUNO, CHLOE)
    async with (
        participant(stack, ALICE, room.public_id, 400) as alice,
        participant(stack, BRUNO, room.public_id, 1000),
        participant(stack, CHLOE, room.public_id, 700, join=False) as chloe,
    ):
        with pytest.raises(RuntimeError, match="call_full"):
            await chloe.join()
        error = [m for m in chloe.heard.messages if m["type"] == "error"][-1]
        assert error["message"] == "This call is full: at most 2 people can be in it."
        assert await until(lambda: share(alice, 1000 * TONE_FACTORS["en"]) > HEARS)
        state = [m for m in alice.heard.messages if m["type"] == "state"][-1]
        assert sorted(p["name"] for p in state["participants"]) == ["Alice", "Bruno"]
