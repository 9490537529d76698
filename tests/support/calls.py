"""People in a real call through the stack, and what they hear."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
from channels.db import database_sync_to_async
from django.db import close_old_connections

from media_workers.devtools.call_client import CallClient, HttpSession, ToneTrack
from media_workers.devtools.dsp import SAMPLE_RATE, band_energy
from media_workers.devtools.stack import Stack
from rooms.models import Room, TranslationUsage
from tests.support.people import PASSWORD, Person

# How much of what a participant hears must be one tone for us to say they hear it.
HEARS = 0.4
# Below this share a tone is absent (the ducked original of a 0.3-amplitude tone is ~2%).
ABSENT = 0.005


def share(client: CallClient, freq: float, seconds: float = 1.0) -> float:
    """The share of the last `seconds` of what `client` heard that is the tone `freq`."""
    audio = client.heard.audio()[-int(seconds * SAMPLE_RATE) :]
    if audio.size < SAMPLE_RATE // 2 or not np.any(audio):
        return 0.0
    return band_energy(audio, SAMPLE_RATE, freq, width_hz=25)


@asynccontextmanager
async def participant(
    stack: Stack, person: Person, room_id: str, tone: float | None, *, join: bool = True
) -> AsyncIterator[CallClient]:
    """`person` logged in over HTTP, on the room page and (unless `join` is false) in the call,
    speaking a steady `tone` (None: silence; `client.track.freq` changes it mid-call)."""
    http = HttpSession(stack.base_url)
    await asyncio.to_thread(http.login, person.email, PASSWORD)
    client = CallClient(base_url=stack.base_url, room_id=room_id, http=http, source=lambda: ToneTrack(tone))
    try:
        await client.connect()
        if join:
            await client.join()
        yield client
    finally:
        await client.close()


async def eventually(check: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Like `until`, for checks that block (the database, HTTP): run off the event loop."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await database_sync_to_async(check)():
            return True
        await asyncio.sleep(0.2)
    return False


def open_sessions(stack: Stack) -> list[dict[str, Any]]:
    return json.loads(stack.fake_control("stats"))["sessions"]  # type: ignore[no-any-return]


def usage_rows(room: Room) -> list[TranslationUsage]:
    return usage_rows_of(room.public_id)


def usage_rows_of(room_public_id: str) -> list[TranslationUsage]:
    close_old_connections()
    return list(TranslationUsage.objects.filter(room_public_id=room_public_id))
