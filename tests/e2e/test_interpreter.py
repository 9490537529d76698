"""A listener language the translate model cannot speak, end to end: the turn-based interpreter.

Real daphne, media worker, Celery worker and Redis; only OpenAI is faked. Alice speaks English
as a steady tone and then pauses; Tarik hears Turkish, which only the general realtime model
(`/v1/realtime`) speaks: the fake answers a turn once it has ended, with the turn's tone times
TONE_FACTORS["tr"], and bills it in tokens.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.test import Client

from media_workers.devtools.call_client import ToneTrack, until
from media_workers.devtools.fake_openai import TONE_FACTORS
from media_workers.devtools.stack import Stack
from rooms.models import Room, TranslationUsage
from tests.support.calls import ABSENT, HEARS, eventually, open_sessions, participant, share, usage_rows
from tests.support.people import Person
from tests.support.rooms import make_room
from tests.support.stack import running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ALICE = Person("alice@example.com", "Alice", "en")
BRUNO = Person("bruno@example.com", "Bruno", "es")
TARIK = Person("tarik@example.com", "Tar\u0131k", "tr")


@pytest.fixture(scope="module")
def stack(django_db_setup: None) -> Iterator[Stack]:
    with running_stack(fake_mode="tone", celery=True, extra_env={"USAGE_REPORT_SECONDS": "1"}) as running:
        yield running


def exported_rows(room: Room) -> list[dict[str, str]]:
    """The room's sessions as staff export them from the usage dashboard."""
    staff = get_user_model().objects.create_user(
        username="staff@example.com", email="staff@example.com", is_staff=True, is_superuser=True
    )
    client = Client()
    client.force_login(staff, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get("/admin/rooms/usagedashboard/export.csv", {"room": room.public_id})
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


async def test_a_turkish_listener_hears_each_sentence_in_turkish_after_it_ends(stack: Stack) -> None:
    room = await database_sync_to_async(make_room)(ALICE, BRUNO, TARIK)
    alice_in_spanish = 400 * TONE_FACTORS["es"]
    alice_in_turkish = 400 * TONE_FACTORS["tr"]
    async with (
        participant(stack, ALICE, room.public_id, 400) as alice,
        participant(stack, BRUNO, room.public_id, None) as bruno,
        participant(stack, TARIK, room.public_id, None) as tarik,
    ):
        # Alice is talking: Bruno already hears her in Spanish as she speaks...
        assert await until(lambda: share(bruno, alice_in_spanish) > HEARS)
        # ...but Tarik hears no Turkish while she speaks, only her own voice.
        assert await until(lambda: share(tarik, 400) > HEARS)
        await asyncio.sleep(1.5)
        assert share(tarik, 400) > HEARS
        assert share(tarik, alice_in_turkish) < ABSENT
        sessions = {(s["endpoint"], s["output_language"]) for s in open_sessions(stack)}
        assert ("realtime", "tr") in sessions and ("translations", "es") in sessions

        assert isinstance(alice.track, ToneTrack)
        alice.track.freq = None
        assert await until(lambda: share(tarik, alice_in_turkish) > HEARS)
        # Only Tarik hears the Turkish; nobody hears their own speech translated.
        assert share(bruno, alice_in_turkish) < ABSENT
        assert share(alice, alice_in_turkish) < ABSENT
        assert f"{round(alice_in_turkish)} Hz" in tarik.heard.caption_text()
        assert {c["language"] for c in tarik.heard.captions} == {"tr"}
        assert f"{round(alice_in_turkish)} Hz" not in bruno.heard.caption_text()

    def turkish() -> list[TranslationUsage]:
        return [row for row in usage_rows(room) if row.language == "tr"]

    def metered() -> bool:
        # Alice's and Bruno's (silent) speech into Turkish; only Alice's turn was answered.
        rows = turkish()
        return len(rows) == 2 and all(row.final for row in rows) and any(row.tokens_total for row in rows)

    # Metered in tokens, charged to the owner, and counted on the staff dashboard.
    assert await eventually(metered), [
        (row.speaker_id, row.final, row.tokens) for row in await database_sync_to_async(turkish)()
    ]
    rows = await database_sync_to_async(turkish)()
    assert all(row.model == "gpt-realtime-2.1" and row.owner_id == room.owner_id for row in rows)
    (answered,) = [row for row in rows if row.tokens_total]
    assert answered.tokens["output_audio"] > 0 and answered.tokens["input_audio"] > 0
    assert answered.cost > 0
    exported = await database_sync_to_async(exported_rows)(room)
    assert {row["session_id"] for row in exported if int(row["tokens_total"]) > 0} == {answered.session_id}
    assert {row["model"] for row in exported if row["language"] == "tr"} == {"gpt-realtime-2.1"}
