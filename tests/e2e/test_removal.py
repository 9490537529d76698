"""Removing someone mid-call, end to end: real daphne, media worker and Redis; OpenAI faked.

The removed person's client keeps its socket and peer connection open: the server must end
both, and the others' call must go on without them.
"""

from __future__ import annotations

import asyncio
import urllib.parse
import urllib.request
from typing import Any

import pytest
from channels.db import database_sync_to_async

from media_workers.devtools.call_client import CallClient, until
from media_workers.devtools.fake_openai import TONE_FACTORS
from media_workers.devtools.stack import Stack
from rooms.models import Membership
from tests.support.calls import HEARS, eventually, open_sessions, participant, share
from tests.support.people import Person
from tests.support.rooms import make_room

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ALICE = Person("alice@example.com", "Alice", "en")
BRUNO = Person("bruno@example.com", "Bruno", "es")


def remove(owner: CallClient, room_id: str, membership_id: int) -> int:
    """The owner presses "Remove" on the room page (a form post with its CSRF token)."""
    http = owner.http
    page = f"/r/{room_id}/"
    http.get(page)
    fields = {"csrfmiddlewaretoken": http.cookie("csrftoken") or ""}
    request = urllib.request.Request(
        f"{http.base_url}/r/{room_id}/members/{membership_id}/remove/",
        data=urllib.parse.urlencode(fields).encode(),
        headers={"Referer": http.base_url + page, "Origin": http.base_url},
    )
    with http.opener.open(request, timeout=15) as response:
        return int(response.status)


def fatal(client: CallClient) -> list[dict[str, Any]]:
    return [m for m in client.heard.messages if m["type"] == "error" and m.get("fatal")]


def people_in_call(client: CallClient) -> list[str]:
    states = [m for m in client.heard.messages if m["type"] == "state"]
    return [p["name"] for p in states[-1]["participants"]] if states else []


async def test_it_ends_a_removed_members_call_at_once(stack: Stack) -> None:
    room = await database_sync_to_async(make_room)(ALICE, BRUNO)
    bruno_membership = await database_sync_to_async(
        lambda: Membership.objects.get(room=room, user__email=BRUNO.email).pk
    )()
    async with (
        participant(stack, ALICE, room.public_id, 400) as alice,
        participant(stack, BRUNO, room.public_id, 1000) as bruno,
    ):
        assert await until(lambda: share(bruno, 400 * TONE_FACTORS["es"]) > HEARS)
        assert await until(lambda: sorted(people_in_call(alice)) == ["Alice", "Bruno"])

        assert await asyncio.to_thread(remove, alice, room.public_id, bruno_membership) == 200

        assert await until(lambda: bool(fatal(bruno))), bruno.heard.messages
        assert fatal(bruno)[-1]["code"] == "removed"
        # The worker dropped Bruno's peer connection: Alice's call now holds only her, and no
        # translation session is left running at OpenAI for him.
        assert await until(lambda: people_in_call(alice) == ["Alice"]), alice.heard.messages[-3:]
        assert await eventually(lambda: open_sessions(stack) == [])
        assert alice.pc is not None and alice.pc.connectionState == "connected"
