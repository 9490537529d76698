"""Demo mode, for people trying the service without an OpenAI key: each hears the other's own
voice, pitch-shifted and about a second late, and a caption says it is not a translation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from channels.db import database_sync_to_async

from media_workers.devtools.call_client import until
from media_workers.devtools.fake_openai import DEMO_PITCH_FACTOR
from media_workers.devtools.stack import Stack
from tests.support.calls import ABSENT, HEARS, participant, share
from tests.support.people import Person
from tests.support.rooms import make_room
from tests.support.stack import running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ANA = Person("ana@example.com", "Ana", "pt")
KENJI = Person("kenji@example.com", "Kenji", "ja")


@pytest.fixture(scope="module")
def demo_stack(django_db_setup: None) -> Iterator[Stack]:
    with running_stack(fake_mode="demo") as stack:
        yield stack


async def test_it_plays_each_the_others_voice_pitch_shifted_and_says_it_is_a_demo(demo_stack: Stack) -> None:
    room = await database_sync_to_async(make_room)(ANA, KENJI)
    async with (
        participant(demo_stack, ANA, room.public_id, 300) as ana,
        participant(demo_stack, KENJI, room.public_id, 600) as kenji,
    ):
        assert ana.hello["demo"] is True
        assert await until(lambda: share(kenji, 300 * DEMO_PITCH_FACTOR, seconds=1.0) > HEARS)
        assert await until(lambda: share(ana, 600 * DEMO_PITCH_FACTOR, seconds=1.0) > HEARS)
        # Nobody hears their own "translation".
        assert share(ana, 300 * DEMO_PITCH_FACTOR) < ABSENT
        assert share(kenji, 600 * DEMO_PITCH_FACTOR) < ABSENT
        assert await until(lambda: "real translation needs an OPENAI_API_KEY" in kenji.heard.caption_text())
        assert "日本語" in kenji.heard.caption_text()
