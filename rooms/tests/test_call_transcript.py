"""Call transcripts on the web side: calls, the setting, keeping utterances, reading, exports, purging."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import srt
import webvtt
from django.contrib.auth.models import AbstractUser
from django.test import Client
from django.utils import timezone

from media_workers.shared.contract import ContractError, UtteranceReport, UtteranceText
from rooms import services, tasks, transcripts, usage
from rooms.models import Call, Membership, Room, Utterance

pytestmark = pytest.mark.django_db


def join(room: Room, *people: AbstractUser) -> list[int]:
    return [usage.participation_join(room=room, user=p, participation_id=None).pk for p in people]


def said(
    room: Room, speaker: AbstractUser, original: str, translations: dict[str, str], *, at: float | None = None
) -> dict[str, object]:
    """What a worker sends for one utterance, as the Celery task receives it."""
    start = time.time() if at is None else at
    membership = Membership.objects.get(room=room, user=speaker)
    return UtteranceReport(
        utterance_id=uuid.uuid4().hex,
        room_id=room.public_id,
        speaker_id=str(membership.pk),
        speaker_name=speaker.profile.name,
        source_language=speaker.profile.speak_language,
        started_at=start,
        ended_at=start + 2.5,
        original=original,
        translations=[UtteranceText(code, text) for code, text in translations.items()],
    ).to_dict()


@pytest.fixture
def transcribed(room: Room, owner: AbstractUser, member: AbstractUser) -> Call:
    """A finished call with transcripts on: Olivia (English) and Mateo (Spanish) spoke."""
    services.room_set_keep_transcripts(room=room, keep=True)
    member.profile.speak_language = "es"
    member.profile.save()
    join(room, owner, member)
    now = time.time()
    tasks.record_utterance(said(room, owner, "Hello, how are you?", {"es": "Hola, ¿cómo estás?"}, at=now))
    tasks.record_utterance(said(room, member, "Muy bien, gracias.", {"en": "Very well, thanks."}, at=now + 3))
    usage.participations_close_in_rooms(room_public_ids=[room.public_id])
    return Call.objects.get(room=room)


def test_it_makes_one_call_of_the_people_in_a_room_until_the_last_leaves(
    room: Room, owner: AbstractUser, member: AbstractUser
) -> None:
    first, second = join(room, owner, member)
    call = Call.objects.get(room=room)
    usage.participation_leave(participation_id=first)
    assert Call.objects.get(pk=call.pk).ended_at is None
    usage.participation_leave(participation_id=second)
    assert Call.objects.get(pk=call.pk).ended_at is not None
    join(room, owner)
    assert Call.objects.filter(room=room).count() == 2


def test_it_keeps_nothing_while_transcripts_are_off(room: Room, owner: AbstractUser) -> None:
    join(room, owner)
    assert not room.keep_transcripts
    tasks.record_utterance(said(room, owner, "Secret", {"es": "Secreto"}))
    assert not Utterance.objects.exists()


def test_it_keeps_an_utterance_once_however_often_it_arrives(room: Room, owner: AbstractUser) -> None:
    services.room_set_keep_transcripts(room=room, keep=True)
    join(room, owner)
    report = said(room, owner, "Once", {"es": "Una vez"})
    tasks.record_utterance(report)
    tasks.record_utterance(report)
    assert list(Utterance.objects.values_list("original", "translations")) == [("Once", {"es": "Una vez"})]


def test_it_stops_keeping_from_the_moment_the_owner_turns_transcripts_off(
    room: Room, owner: AbstractUser
) -> None:
    services.room_set_keep_transcripts(room=room, keep=True)
    join(room, owner)
    tasks.record_utterance(said(room, owner, "Kept", {}))
    services.room_set_keep_transcripts(room=room, keep=False)
    tasks.record_utterance(said(room, owner, "Not kept", {}))
    assert list(Utterance.objects.values_list("original", flat=True)) == ["Kept"]


def test_it_refuses_a_report_that_does_not_fit_the_contract(room: Room) -> None:
    with pytest.raises(ContractError):
        tasks.record_utterance({"utterance_id": "x", "room_id": room.public_id})
    assert not Utterance.objects.exists()


def test_it_lets_the_owner_turn_transcripts_on_and_off(
    room: Room, owner: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    client = client_for(owner)
    client.post(f"/r/{room.public_id}/transcripts/", {"keep": "on"})
    room.refresh_from_db()
    assert room.keep_transcripts
    client.post(f"/r/{room.public_id}/transcripts/", {})
    room.refresh_from_db()
    assert not room.keep_transcripts


def test_it_tells_everyone_before_they_join(
    room: Room,
    token: str,
    member: AbstractUser,
    outsider: AbstractUser,
    client_for: Callable[[AbstractUser], Client],
) -> None:
    notice = "This call is transcribed"
    assert notice not in Client().get(f"/i/{token}/").content.decode()
    services.room_set_keep_transcripts(room=room, keep=True)
    # The guest lobby, and the confirmation someone with an account sees before joining the room.
    assert notice in Client().get(f"/i/{token}/").content.decode()
    assert notice in client_for(outsider).get(f"/i/{token}/").content.decode()
    page = client_for(member).get(f"/r/{room.public_id}/").content.decode()
    assert notice in page and "data-transcribed-notice role" in page


def test_it_lists_past_calls_to_the_people_who_were_in_them(
    transcribed: Call,
    room: Room,
    guest: AbstractUser,
    member: AbstractUser,
    client_for: Callable[[AbstractUser], Client],
) -> None:
    page = client_for(member).get(f"/r/{room.public_id}/").content.decode()
    assert "Past calls" in page and "Olivia, Mateo" in page and f"/calls/{transcribed.pk}/" in page
    # Greta joined the room after that call: she does not see it, and may not read it.
    assert "Past calls" not in client_for(guest).get(f"/r/{room.public_id}/").content.decode()
    assert client_for(guest).get(f"/r/{room.public_id}/calls/{transcribed.pk}/").status_code == 404


def test_each_reader_reads_their_language_with_the_original_beneath(
    transcribed: Call,
    room: Room,
    owner: AbstractUser,
    member: AbstractUser,
    client_for: Callable[[AbstractUser], Client],
) -> None:
    path = f"/r/{room.public_id}/calls/{transcribed.pk}/"
    olivia = client_for(owner).get(path).content.decode()
    assert (
        olivia.index("Hello, how are you?")
        < olivia.index("Very well, thanks.")
        < olivia.index("Muy bien, gracias.")
    )
    mateo = client_for(member).get(path).content.decode()
    assert mateo.index("Hola, ¿cómo estás?") < mateo.index("Hello, how are you?") < mateo.index("Muy bien")


def test_the_exports_parse_with_real_parsers(
    transcribed: Call, room: Room, member: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    base = f"/r/{room.public_id}/calls/{transcribed.pk}/transcript"
    client = client_for(member)
    vtt = client.get(f"{base}.vtt")
    assert vtt["Content-Type"].startswith("text/vtt")
    cues = webvtt.from_buffer(io.StringIO(vtt.content.decode()))
    assert [cue.text for cue in cues] == [
        "Olivia: Hola, ¿cómo estás?\n(Hello, how are you?)",
        "Mateo: Muy bien, gracias.",
    ]
    assert cues[0].start.startswith("00:00:00") and cues[1].start.startswith("00:00:03")
    subtitles = list(srt.parse(client.get(f"{base}.srt").content.decode()))
    assert [s.content for s in subtitles] == [cue.text for cue in cues]
    assert subtitles[1].start >= timedelta(seconds=3) and subtitles[1].end > subtitles[1].start
    text = client.get(f"{base}.txt").content.decode()
    assert "Kitchen table" in text and "[00:00:03] Mateo: Muy bien, gracias." in text
    assert client.get(f"{base}.pdf").status_code == 404


def test_the_owner_deletes_a_transcript_and_members_may_not(
    transcribed: Call,
    room: Room,
    owner: AbstractUser,
    member: AbstractUser,
    client_for: Callable[[AbstractUser], Client],
) -> None:
    path = f"/r/{room.public_id}/calls/{transcribed.pk}/delete/"
    assert client_for(member).post(path).status_code == 403
    assert transcribed.utterances.count() == 2
    assert client_for(owner).post(path).status_code == 302
    assert not transcribed.utterances.exists()
    assert (
        "Nothing of this call was transcribed"
        in client_for(member).get(f"/r/{room.public_id}/calls/{transcribed.pk}/").content.decode()
    )


def test_retention_purges_old_transcripts(transcribed: Call, settings: Any) -> None:
    assert settings.CELERY_BEAT_SCHEDULE["purge-transcripts"]["task"] == "rooms.tasks.purge_transcripts"
    assert tasks.purge_transcripts() == 0
    Call.objects.filter(pk=transcribed.pk).update(started_at=timezone.now() - timedelta(days=91))
    assert tasks.purge_transcripts() == 2
    assert not Utterance.objects.exists() and Call.objects.filter(pk=transcribed.pk).exists()


def test_deleting_the_room_deletes_its_transcripts(transcribed: Call, room: Room) -> None:
    services.room_delete(room=room)
    assert not Utterance.objects.exists() and not Call.objects.exists()


def test_lines_fall_back_to_the_original_where_nothing_was_translated(transcribed: Call) -> None:
    lines = transcripts.lines_for(transcribed, transcribed.utterances.all(), "fr")
    assert [(line.text, line.translated) for line in lines] == [
        ("Hello, how are you?", False),
        ("Muy bien, gracias.", False),
    ]


def test_a_call_of_another_room_is_not_found_even_for_an_owner(
    transcribed: Call, owner: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    other, _issued = services.room_create(owner=owner, name="Elsewhere")
    client = client_for(owner)
    assert client.get(f"/r/{other.public_id}/calls/{transcribed.pk}/").status_code == 404
    assert client.get(f"/r/{other.public_id}/calls/{transcribed.pk}/transcript.txt").status_code == 404
    assert client.post(f"/r/{other.public_id}/calls/{transcribed.pk}/delete/").status_code == 404
    assert transcribed.utterances.count() == 2
