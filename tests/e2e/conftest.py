"""Fixtures that run the real service processes for end-to-end tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import numpy as np
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from media_workers.call_client import CallClient, HttpSession, ToneTrack
from media_workers.dsp import SAMPLE_RATE, band_energy
from media_workers.stack import Stack
from rooms import services
from rooms.models import Room

PASSWORD = "a-long-test-password-1"
# How much of what a participant hears must be one tone for us to say they hear it.
HEARS = 0.4
# Below this share a tone is absent (the ducked original of a 0.3-amplitude tone is ~2%).
ABSENT = 0.005


def database_url() -> str:
    """The test database as a URL the subprocesses can open (after pytest-django created it)."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{host}/{db['NAME']}"


@pytest.fixture(scope="module")
def stack(django_db_setup: None) -> Iterator[Stack]:
    running = Stack(database_url=database_url(), fake_mode="tone").start()
    try:
        yield running
    finally:
        running.stop()


@dataclass
class Person:
    email: str
    name: str
    language: str


def make_user(person: Person) -> object:
    user = get_user_model().objects.create_user(username=person.email, email=person.email, password=PASSWORD)
    services.profile_update(
        profile=user.profile,
        display_name=person.name,
        hear_language=person.language,
        speak_language=person.language,
        # Pages in English, whatever they hear: these tests read the pages' English labels
        # (tests/browser/test_languages.py reads them in the others).
        page_language="en",
    )
    return user


def make_room(owner: Person, *members: Person) -> Room:
    """A room owned by `owner` that `members` joined through its invite."""
    room, issued = services.room_create(owner=make_user(owner), name="Kitchen table")
    for member in members:
        services.invite_accept(token=issued.token, user=make_user(member))
    return room


def share(client: CallClient, freq: float, seconds: float = 1.0) -> float:
    """The share of the last `seconds` of what `client` heard that is the tone `freq`."""
    audio = client.heard.audio()[-int(seconds * SAMPLE_RATE) :]
    if audio.size < SAMPLE_RATE // 2 or not np.any(audio):
        return 0.0
    return band_energy(audio, SAMPLE_RATE, freq, width_hz=25)


@asynccontextmanager
async def participant(
    stack: Stack, person: Person, room_id: str, tone: float, *, join: bool = True
) -> AsyncIterator[CallClient]:
    """`person` logged in over HTTP, on the room page and (unless `join` is false) in the call."""
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
