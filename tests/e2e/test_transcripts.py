"""Call transcripts end to end: real daphne, media worker, Celery worker, Redis; OpenAI faked.

Alice (English) and Bruno (Spanish) each play a tone; the fake translator in `tone` mode
transcribes a tone f as "[tone f Hz]" and translates it into a tone per language, so each
utterance's original and translation say whose speech it was and into which language it went.
Speaking in turn is muting in turn: a muted microphone sends silence, which has no words.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator

import pytest
import srt
import webvtt
from channels.db import database_sync_to_async
from django.db import close_old_connections

from media_workers.devtools.call_client import CallClient, HttpSession, until
from media_workers.devtools.fake_openai import TONE_FACTORS
from media_workers.devtools.stack import Stack
from rooms import services
from rooms.models import Call, Room, Utterance
from tests.support.calls import HEARS, eventually, participant, share, usage_rows
from tests.support.people import PASSWORD, Person
from tests.support.rooms import make_room
from tests.support.stack import running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ALICE = Person("alice@example.com", "Alice", "en")
BRUNO = Person("bruno@example.com", "Bruno", "es")
PAUSE_SECONDS = 1.0


@pytest.fixture(scope="module")
def stack(django_db_setup: None) -> Iterator[Stack]:
    env = {"TRANSCRIPT_PAUSE_SECONDS": str(PAUSE_SECONDS), "USAGE_REPORT_SECONDS": "1"}
    with running_stack(fake_mode="tone", celery=True, extra_env=env) as running:
        yield running


def utterances(room: Room) -> list[Utterance]:
    close_old_connections()
    return list(Utterance.objects.filter(call__room=room).order_by("started_at"))


def keep_transcripts(room: Room, keep: bool) -> None:
    services.room_set_keep_transcripts(room=Room.objects.get(pk=room.pk), keep=keep)


async def hears(listener: CallClient, tone: float, language: str) -> bool:
    return await until(lambda: share(listener, tone * TONE_FACTORS[language]) > HEARS, timeout=20)


async def test_a_transcribed_call_keeps_both_sides_in_order_with_their_translations(stack: Stack) -> None:
    room = await database_sync_to_async(make_room)(ALICE, BRUNO)
    await database_sync_to_async(keep_transcripts)(room, True)
    async with (
        participant(stack, ALICE, room.public_id, 400, join=False) as alice,
        participant(stack, BRUNO, room.public_id, 1000, join=False) as bruno,
    ):
        assert alice.hello["transcribed"] is True
        await bruno.mute(True)
        await alice.join()
        await bruno.join()
        assert await hears(bruno, 400, "es")
        await alice.mute(True)
        # Alice paused: her utterance is kept while the call goes on.
        assert await eventually(lambda: len(utterances(room)) >= 1)
        await bruno.mute(False)
        assert await hears(alice, 1000, "en")
    # The call ended with its last person: Bruno's last words are kept too.
    assert await eventually(lambda: {u.speaker_name for u in utterances(room)} == {"Alice", "Bruno"})
    kept = await database_sync_to_async(utterances)(room)
    speakers = [u.speaker_name for u in kept]
    assert speakers == sorted(speakers), speakers  # Alice spoke first, then Bruno
    for u in kept:
        source, tone, language = ("en", 400, "es") if u.speaker_name == "Alice" else ("es", 1000, "en")
        assert u.source_language == source
        assert f"[tone {tone} Hz]" in u.original
        assert list(u.translations) == [language]
        assert f"[tone {round(tone * TONE_FACTORS[language])} Hz]" in u.translations[language]

    call = await database_sync_to_async(Call.objects.get)(room=room)
    assert call.ended_at is not None
    # Bruno reads it in Spanish with the original beneath, and downloads it.
    http = HttpSession(stack.base_url)
    await database_sync_to_async(http.login)(BRUNO.email, PASSWORD)
    _, room_page = await database_sync_to_async(http.get)(f"/r/{room.public_id}/")
    assert "Past calls" in room_page and "Alice, Bruno" in room_page
    _, page = await database_sync_to_async(http.get)(f"/r/{room.public_id}/calls/{call.pk}/")
    alice_in_spanish = f"[tone {round(400 * TONE_FACTORS['es'])} Hz]"
    assert page.index(alice_in_spanish) < page.index("[tone 400 Hz]")
    base = f"/r/{room.public_id}/calls/{call.pk}/transcript"
    _, vtt = await database_sync_to_async(http.get)(f"{base}.vtt")
    cues = webvtt.from_buffer(io.StringIO(vtt))
    assert len(cues) == len(kept)
    assert cues[0].text.startswith(f"Alice: {alice_in_spanish}")
    assert cues[-1].text.startswith("Bruno: [tone 1000 Hz]")
    _, subtitles = await database_sync_to_async(http.get)(f"{base}.srt")
    parsed = list(srt.parse(subtitles))
    assert [s.content for s in parsed] == [c.text for c in cues]
    assert all(a.start <= b.start for a, b in itertools.pairwise(parsed))


async def test_a_call_without_transcripts_keeps_nothing(stack: Stack) -> None:
    room = await database_sync_to_async(make_room)(ALICE, BRUNO)
    async with (
        participant(stack, ALICE, room.public_id, 400) as alice,
        participant(stack, BRUNO, room.public_id, 1000) as bruno,
    ):
        assert alice.hello["transcribed"] is False
        assert await hears(bruno, 400, "es")
        assert await hears(alice, 1000, "en")
    # Celery has taken the worker's last reports of the call: nothing else came with them.
    assert await eventually(lambda: len(usage_rows(room)) == 2 and all(r.final for r in usage_rows(room)))
    assert await database_sync_to_async(utterances)(room) == []


async def test_turning_transcripts_off_mid_call_stops_keeping_at_once(stack: Stack) -> None:
    room = await database_sync_to_async(make_room)(ALICE, BRUNO)
    await database_sync_to_async(keep_transcripts)(room, True)
    async with (
        participant(stack, ALICE, room.public_id, 400, join=False) as alice,
        participant(stack, BRUNO, room.public_id, 1000, join=False) as bruno,
    ):
        await bruno.mute(True)
        await alice.join()
        await bruno.join()
        assert await hears(bruno, 400, "es")
        await alice.mute(True)
        assert await eventually(lambda: len(utterances(room)) >= 1)
        await database_sync_to_async(keep_transcripts)(room, False)
        # Every page is told at once, and so is the worker.
        assert await until(lambda: {"type": "transcribed", "on": False} in bruno.heard.messages)
        await bruno.mute(False)
        assert await hears(alice, 1000, "en")
    assert await eventually(lambda: len(usage_rows(room)) == 2 and all(r.final for r in usage_rows(room)))
    assert {u.speaker_name for u in await database_sync_to_async(utterances)(room)} == {"Alice"}
