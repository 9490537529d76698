"""The live call end to end: real daphne, media worker, Redis and aiortc; only OpenAI is faked.

Each participant "speaks" a steady tone. The fake translator in `tone` mode turns a tone f
into f x TONE_FACTORS[target language], so what a participant hears tells whose speech it
is and which language it was translated into.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from channels.db import database_sync_to_async

from media_workers.devtools.call_client import CallClient, until
from media_workers.devtools.dsp import SAMPLE_RATE, band_energy
from media_workers.devtools.fake_openai import TONE_FACTORS
from media_workers.devtools.stack import Stack
from rooms import services
from tests.support.calls import ABSENT, HEARS, participant, share
from tests.support.people import Person
from tests.support.rooms import make_room

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ALICE = Person("alice@example.com", "Alice", "en")
BRUNO = Person("bruno@example.com", "Bruno", "es")
CHLOE = Person("chloe@example.com", "Chloé", "fr")


async def test_it_translates_each_speaker_for_the_other_and_nobody_hears_their_own(stack: Stack) -> None:
    room = await database_sync_to_async(make_room)(ALICE, BRUNO)
    async with (
        participant(stack, ALICE, room.public_id, 400) as alice,
        participant(stack, BRUNO, room.public_id, 1000) as bruno,
    ):
        alice_in_spanish = 400 * TONE_FACTORS["es"]
        bruno_in_english = 1000 * TONE_FACTORS["en"]
        assert await until(lambda: share(bruno, alice_in_spanish) > HEARS), share(bruno, alice_in_spanish)
        assert await until(lambda: share(alice, bruno_in_english) > HEARS), share(alice, bruno_in_english)
        await asyncio.sleep(1.0)

        assert share(bruno, alice_in_spanish) > HEARS
        assert share(alice, bruno_in_english) > HEARS
        # Nobody hears their own translation.
        assert share(alice, alice_in_spanish) < ABSENT
        assert share(bruno, bruno_in_english) < ABSENT
        # The other's original voice is there, quietly, under the translation.
        assert ABSENT < share(alice, 1000) < HEARS / 4
        assert ABSENT < share(bruno, 400) < HEARS / 4

        assert f"{round(alice_in_spanish)} Hz" in bruno.heard.caption_text()
        assert f"{round(bruno_in_english)} Hz" in alice.heard.caption_text()
        assert {c["name"] for c in bruno.heard.captions} == {"Alice"}
        assert {c["language"] for c in alice.heard.captions} == {"en"}


async def test_it_runs_one_session_per_speaker_and_listener_language_for_three(stack: Stack) -> None:
    room = await database_sync_to_async(make_room)(ALICE, BRUNO, CHLOE)
    # Tones chosen so that no original or translated frequency lies within 50 Hz of another.
    async with (
        participant(stack, ALICE, room.public_id, 500) as alice,
        participant(stack, BRUNO, room.public_id, 1260) as bruno,
        participant(stack, CHLOE, room.public_id, 1180) as chloe,
    ):
        expectations = [
            (alice, 1260 * TONE_FACTORS["en"]),
            (alice, 1180 * TONE_FACTORS["en"]),
            (bruno, 500 * TONE_FACTORS["es"]),
            (bruno, 1180 * TONE_FACTORS["es"]),
            (chloe, 500 * TONE_FACTORS["fr"]),
            (chloe, 1260 * TONE_FACTORS["fr"]),
        ]
        for client, freq in expectations:
            # Two translations share what one hears: each must be a clear part of it.
            assert await until(lambda c=client, f=freq: share(c, f) > HEARS / 3), (client.room_id, freq)
        state = [m for m in chloe.heard.messages if m["type"] == "state"][-1]
        assert len(state["sessions"]) == 6
        assert {p["name"] for p in state["participants"]} == {"Alice", "Bruno", "Chloé"}
        for client, own in ((alice, 500), (bruno, 1260), (chloe, 1180)):
            for language in ("en", "es", "fr"):
                assert share(client, own * TONE_FACTORS[language]) < ABSENT


async def test_it_switches_language_mid_call_without_reconnecting(stack: Stack) -> None:
    room = await database_sync_to_async(make_room)(ALICE, BRUNO)
    async with (
        participant(stack, ALICE, room.public_id, 400) as alice,
        participant(stack, BRUNO, room.public_id, 1000) as bruno,
    ):
        assert await until(lambda: share(bruno, 400 * TONE_FACTORS["es"]) > HEARS)
        peer = bruno.pc
        await bruno.set_language("de")
        switched = time.monotonic()
        assert await until(lambda: share(bruno, 400 * TONE_FACTORS["de"], seconds=0.6) > HEARS, timeout=10)
        took = time.monotonic() - switched
        await asyncio.sleep(1.0)
        assert share(bruno, 400 * TONE_FACTORS["de"], seconds=0.6) > HEARS
        assert share(bruno, 400 * TONE_FACTORS["es"], seconds=0.6) < ABSENT
        assert bruno.pc is peer and peer is not None and peer.connectionState == "connected"
        assert took < 10
        # Alice, who speaks English, now has a German session instead of a Spanish one.
        state = [m for m in alice.heard.messages if m["type"] == "state"][-1]
        assert {(s["language"]) for s in state["sessions"]} == {"de", "en"}


async def test_it_lets_a_participant_leave_and_rejoin(stack: Stack) -> None:
    room = await database_sync_to_async(make_room)(ALICE, BRUNO)
    async with (
        participant(stack, ALICE, room.public_id, 400) as alice,
        participant(stack, BRUNO, room.public_id, 1000) as bruno,
    ):
        assert await until(lambda: share(alice, 1000 * TONE_FACTORS["en"]) > HEARS)
        await bruno.leave()
        assert await until(lambda: share(alice, 1000 * TONE_FACTORS["en"], seconds=0.5) < ABSENT)
        state = [m for m in alice.heard.messages if m["type"] == "state"][-1]
        assert [p["name"] for p in state["participants"]] == ["Alice"]
        assert state["sessions"] == []

        await bruno.join()
        assert await until(lambda: share(alice, 1000 * TONE_FACTORS["en"]) > HEARS)
        assert await until(lambda: share(bruno, 400 * TONE_FACTORS["es"]) > HEARS)


async def test_it_resumes_translation_after_openai_drops_the_connection(stack: Stack) -> None:
    room = await database_sync_to_async(make_room)(ALICE, BRUNO)
    async with (
        participant(stack, ALICE, room.public_id, 400) as alice,
        participant(stack, BRUNO, room.public_id, 1000) as bruno,
    ):
        alice_in_spanish = 400 * TONE_FACTORS["es"]
        assert await until(lambda: share(bruno, alice_in_spanish) > HEARS)
        await asyncio.to_thread(stack.fake_control, "drop")
        assert await until(
            lambda: any(
                m["type"] == "translation" and m["status"] == "reconnecting" for m in bruno.heard.messages
            ),
            timeout=10,
        )
        dropped = time.monotonic()
        assert await until(
            lambda: (
                bruno.heard.audio(since=dropped).size > SAMPLE_RATE
                and band_energy(
                    bruno.heard.audio(since=dropped)[-SAMPLE_RATE:], SAMPLE_RATE, alice_in_spanish
                )
                > HEARS
            )
        )
        assert await until(lambda: share(alice, 1000 * TONE_FACTORS["en"]) > HEARS)
        # The call itself never went down.
        assert alice.pc is not None and alice.pc.connectionState == "connected"


async def test_it_shows_a_page_opened_during_a_call_who_is_in_it(stack: Stack) -> None:
    room = await database_sync_to_async(make_room)(ALICE, BRUNO, CHLOE)
    async with (
        participant(stack, ALICE, room.public_id, 400),
        participant(stack, BRUNO, room.public_id, 1000) as bruno,
    ):
        assert await until(lambda: share(bruno, 400 * TONE_FACTORS["es"]) > HEARS)
        async with participant(stack, CHLOE, room.public_id, 700, join=False) as chloe:

            def roster() -> list[str]:
                states = [m for m in chloe.heard.messages if m["type"] == "state"]
                return sorted(p["name"] for p in states[-1]["participants"]) if states else []

            assert await until(lambda: roster() == ["Alice", "Bruno"], timeout=10)


async def test_it_ends_the_call_for_everyone_when_the_owner_closes_the_room(stack: Stack) -> None:
    room = await database_sync_to_async(make_room)(ALICE, BRUNO)
    async with (
        participant(stack, ALICE, room.public_id, 400) as alice,
        participant(stack, BRUNO, room.public_id, 1000) as bruno,
    ):
        assert await until(lambda: share(bruno, 400 * TONE_FACTORS["es"]) > HEARS)
        await database_sync_to_async(services.room_close)(room=room)

        def told_closed(client: CallClient) -> bool:
            return any(m.get("code") == "room_closed" and m.get("fatal") for m in client.heard.messages)

        assert await until(lambda: told_closed(alice) and told_closed(bruno), timeout=10)
        # The translations stop at OpenAI too: nothing more is metered.
        assert await until(lambda: json.loads(stack.fake_control("stats"))["sessions"] == [], timeout=10)
