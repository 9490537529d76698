"""Metering and quotas end to end: real daphne, media worker, Celery worker, Redis; OpenAI faked.

The media worker reports every second here (USAGE_REPORT_SECONDS=1), through Celery, so
a worker that dies loses at most that one second of usage.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from channels.db import database_sync_to_async

from media_workers.devtools.call_client import CallClient, until
from media_workers.devtools.fake_openai import TONE_FACTORS
from media_workers.devtools.stack import Stack
from rooms import live, services
from rooms.models import Room
from tests.support.calls import (
    HEARS,
    eventually,
    open_sessions,
    participant,
    share,
    usage_rows,
    usage_rows_of,
)
from tests.support.people import Person
from tests.support.rooms import make_room
from tests.support.stack import running_stack
from tests.support.usage import make_report, record

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ALICE = Person("alice@example.com", "Alice", "en")
BRUNO = Person("bruno@example.com", "Bruno", "es")

REPORT_SECONDS = 1.0
# The site's monthly limit in this module: far above what the other tests spend (cents).
SITE_LIMIT = 1.0
# Allowance for the first audio reaching OpenAI after a join (ICE, the translator's connection).
SLACK = 1.5


@pytest.fixture(scope="module")
def stack(django_db_setup: None) -> Iterator[Stack]:
    env = {"USAGE_REPORT_SECONDS": str(REPORT_SECONDS), "GLOBAL_MONTHLY_SPEND_LIMIT": str(SITE_LIMIT)}
    with running_stack(fake_mode="tone", celery=True, extra_env=env) as running:
        yield running


def set_quota(room: Room, minutes: int, used_seconds: float) -> None:
    """The owner may translate `minutes` a month and has already used `used_seconds` of them."""
    profile = room.owner.profile
    profile.monthly_minutes_quota = minutes
    profile.save()
    record(make_report(room, seconds_sent=used_seconds))


def translation_off(client: CallClient) -> list[dict[str, Any]]:
    return [m for m in client.heard.messages if m["type"] == "translation" and m["status"] == "off"]


async def translation_stops_mid_call(stack: Stack, room: Room, *, because: str) -> None:
    """Alice and Bruno hear each other translated, then every page is told why it stopped, every
    session at OpenAI closes, and the call goes on untranslated."""
    async with (
        participant(stack, ALICE, room.public_id, 400) as alice,
        participant(stack, BRUNO, room.public_id, 1000) as bruno,
    ):
        assert await until(lambda: share(bruno, 400 * TONE_FACTORS["es"]) > HEARS)
        for client in (alice, bruno):
            assert await until(lambda c=client: bool(translation_off(c))), client.heard.messages
            assert because in translation_off(client)[-1]["detail"]
        assert await eventually(lambda: open_sessions(stack) == [])
        assert await until(lambda: share(bruno, 400) > HEARS)
        assert alice.pc is not None and alice.pc.connectionState == "connected"


async def test_it_does_not_translate_a_call_whose_owner_is_at_quota(stack: Stack) -> None:
    room = await database_sync_to_async(make_room)(ALICE, BRUNO)
    await database_sync_to_async(set_quota)(room, 1, 60.0)
    connections_before = json.loads(await asyncio.to_thread(stack.fake_control, "stats"))["total_connections"]
    async with (
        participant(stack, ALICE, room.public_id, 400) as alice,
        participant(stack, BRUNO, room.public_id, 1000) as bruno,
    ):
        for client in (alice, bruno):
            assert await until(lambda c=client: bool(translation_off(c))), client.heard.messages
            assert "this month's 1 translation minutes" in translation_off(client)[-1]["detail"]
        # The call goes on untranslated: each hears the other's own voice.
        assert await until(lambda: share(bruno, 400) > HEARS)
        assert await until(lambda: share(alice, 1000) > HEARS)
        state = [m for m in alice.heard.messages if m["type"] == "state"][-1]
        assert state["sessions"] == []
        stats = json.loads(await asyncio.to_thread(stack.fake_control, "stats"))
        assert stats["sessions"] == []
        assert stats["total_connections"] == connections_before


async def test_it_stops_translation_mid_call_when_the_quota_runs_out(stack: Stack) -> None:
    room = await database_sync_to_async(make_room)(ALICE, BRUNO)
    # 50 of 60 seconds used: the call's two translations take the owner over in about 5 s.
    await database_sync_to_async(set_quota)(room, 1, 50.0)
    await translation_stops_mid_call(stack, room, because="translation minutes")


async def test_it_stops_translation_in_a_live_call_when_the_site_reaches_its_limit(stack: Stack) -> None:
    room = await database_sync_to_async(make_room)(ALICE, BRUNO)
    # Someone else's room spent all but about a quarter of a cent ($0.034 a minute): this call's
    # two translations use that up within a few seconds, far inside Alice's own quota.
    elsewhere = await database_sync_to_async(make_room)(Person("carla@example.com", "Carla", "it"))
    await database_sync_to_async(record)(
        make_report(elsewhere, seconds_sent=(SITE_LIMIT - 0.0027) / 0.034 * 60)
    )
    await translation_stops_mid_call(stack, room, because="this month's spending limit for translation")
    # A call that starts now is told why at once, and opens no session at all.
    connections_before = json.loads(await asyncio.to_thread(stack.fake_control, "stats"))["total_connections"]
    async with (
        participant(stack, ALICE, room.public_id, 400) as alice,
        participant(stack, BRUNO, room.public_id, 1000) as bruno,
    ):
        for client in (alice, bruno):
            assert await until(lambda c=client: bool(translation_off(c))), client.heard.messages
            assert "spending limit" in translation_off(client)[-1]["detail"]
        assert await until(lambda: share(alice, 1000) > HEARS)
    stats = json.loads(await asyncio.to_thread(stack.fake_control, "stats"))
    assert stats["total_connections"] == connections_before


async def test_it_ends_the_call_and_its_metering_when_the_owner_deletes_the_room_mid_call(
    stack: Stack,
) -> None:
    room = await database_sync_to_async(make_room)(ALICE, BRUNO)
    owner_id, room_id = room.owner_id, room.public_id
    async with (
        participant(stack, ALICE, room.public_id, 400) as alice,
        participant(stack, BRUNO, room.public_id, 1000) as bruno,
    ):
        assert await until(lambda: share(bruno, 400 * TONE_FACTORS["es"]) > HEARS)
        assert await until(lambda: share(alice, 1000 * TONE_FACTORS["en"]) > HEARS)
        running = {s["id"] for s in open_sessions(stack)}
        await database_sync_to_async(services.room_delete)(room=room)

        def told(client: CallClient) -> bool:
            return any(m.get("code") == "room_closed" and m.get("fatal") for m in client.heard.messages)

        assert await until(lambda: told(alice) and told(bruno), timeout=10)
        # Both translations were closed at OpenAI, and the worker holds no peer connection.
        assert await eventually(lambda: open_sessions(stack) == [], timeout=10)
        stats = json.loads(await asyncio.to_thread(stack.fake_control, "stats"))
        closed = {s["id"] for s in stats["ended_sessions"] if s["ended_by"] == "session.close"}
        assert len(running) == 2 and running <= closed
        assert await eventually(lambda: live.live_numbers().participants == 0, timeout=10)

        def both_final() -> bool:
            rows = usage_rows_of(room_id)
            return len(rows) == 2 and all(row.final for row in rows)

        # Charged to the owner the sessions started under, although the room is gone.
        assert await eventually(both_final)
        rows = await database_sync_to_async(usage_rows_of)(room_id)
        assert all(row.owner_id == owner_id and row.room_id is None and row.seconds_sent > 0 for row in rows)
        await asyncio.sleep(3 * REPORT_SECONDS)
        later = await database_sync_to_async(usage_rows_of)(room_id)
        assert sorted(r.seconds_sent for r in later) == sorted(r.seconds_sent for r in rows)


async def test_it_loses_at_most_one_report_interval_when_the_worker_dies(stack: Stack) -> None:
    room = await database_sync_to_async(make_room)(ALICE, BRUNO)
    async with (
        participant(stack, ALICE, room.public_id, 400) as alice,
        participant(stack, BRUNO, room.public_id, 1000) as bruno,
    ):
        joined = time.monotonic()
        assert await until(lambda: share(bruno, 400 * TONE_FACTORS["es"]) > HEARS)
        assert await until(lambda: share(alice, 1000 * TONE_FACTORS["en"]) > HEARS)
        await asyncio.sleep(max(0.0, 4.0 - (time.monotonic() - joined)))
        await asyncio.to_thread(stack.kill, "worker0")
        in_call = time.monotonic() - joined

        expected = in_call - REPORT_SECONDS - SLACK

        def both_metered() -> bool:
            rows = usage_rows(room)
            return len(rows) == 2 and all(row.seconds_sent >= expected for row in rows)

        assert await eventually(both_metered), [
            (row.language, row.seconds_sent, in_call)
            for row in await database_sync_to_async(usage_rows)(room)
        ]
        rows = await database_sync_to_async(usage_rows)(room)
        assert {row.language for row in rows} == {"en", "es"}
        assert all(row.owner_id == room.owner_id and row.final is False for row in rows)
