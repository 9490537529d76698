"""Transcripts in Chromium: the notice before and during a call, and reading a transcript after it.

Rows are made before the `chromium` fixture starts (see conftest): fixtures listed before it.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import srt
import webvtt
from playwright.sync_api import expect

from media_workers.devtools.stack import Stack
from rooms import services
from rooms.models import Call, CallParticipation, Membership, Utterance
from tests.support.people import Person, user_for
from tests.support.rooms import make_room

from .conftest import ALICE, Launch, join_call, log_in, new_page, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BRUNO = Person("bruno@example.com", "Bruno", "es")
NOTICE = "This call is transcribed"


@pytest.fixture
def transcribed_room(stack: Stack) -> str:
    """A room of Alice's that keeps transcripts (made before any browser starts)."""
    room = make_room(ALICE)
    services.room_set_keep_transcripts(room=room, keep=True)
    return f"{stack.base_url}/r/{room.public_id}/"


def test_the_notice_shows_before_and_during_the_call_and_follows_the_owners_setting(
    stack: Stack, transcribed_room: str, chromium: Launch
) -> None:
    browser = chromium()
    in_call = new_page(browser)
    log_in(in_call, stack.base_url, ALICE.email)
    in_call.goto(transcribed_room)
    notice = in_call.locator("#call [data-transcribed-notice]")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text(NOTICE)
    join_call(in_call)
    expect(notice).to_be_visible()
    screenshot(in_call, "transcribed-in-call-390.png")

    # The owner turns it off from another tab: the page in the call hides the notice at once.
    settings = in_call.context.new_page()
    settings.goto(transcribed_room)
    settings.get_by_role("button", name="Stop keeping transcripts").click()
    expect(settings.get_by_text("Transcripts are off: from now on nothing said")).to_be_visible()
    expect(notice).to_be_hidden()
    settings.get_by_role("button", name="Keep transcripts").click()
    expect(notice).to_be_visible()
    expect(in_call.locator("[data-call-state]")).to_have_text("In the call")


@dataclass
class Held:
    url: str
    call_id: int


@pytest.fixture
def held_call(stack: Stack) -> Held:
    """A call Alice (English) and Bruno (Spanish) had, with what each said kept."""
    room = make_room(ALICE)
    bruno = user_for(BRUNO)
    membership = Membership.objects.create(room=room, user=bruno, role=Membership.Role.MEMBER)
    started = datetime.now(tz=UTC) - timedelta(minutes=10)
    call = Call.objects.create(room=room, started_at=started, ended_at=started + timedelta(minutes=3))
    for user in (room.owner, bruno):
        CallParticipation.objects.create(room=room, user=user, call=call, joined_at=started)
    alice_membership = Membership.objects.get(room=room, user=room.owner)
    lines = [
        (alice_membership, "Alice", "en", 2, "Where is the station?", {"es": "¿Dónde está la estación?"}),
        (membership, "Bruno", "es", 6, "Todo recto, a la izquierda.", {"en": "Straight on, to the left."}),
    ]
    for speaker, name, language, second, original, translations in lines:
        Utterance.objects.create(
            utterance_id=f"u{second}-{time.time_ns()}",
            call=call,
            speaker=speaker,
            speaker_name=name,
            source_language=language,
            started_at=started + timedelta(seconds=second),
            ended_at=started + timedelta(seconds=second + 3),
            original=original,
            translations=translations,
        )
    return Held(url=f"{stack.base_url}/r/{room.public_id}/", call_id=call.pk)


def test_a_person_from_the_call_reads_it_in_their_language_and_downloads_it(
    stack: Stack, held_call: Held, chromium: Launch, tmp_path: Path
) -> None:
    page = new_page(chromium())
    log_in(page, stack.base_url, BRUNO.email)
    page.goto(held_call.url)
    past = page.get_by_role("region", name="Past calls")
    expect(past).to_contain_text("3 minutes")
    expect(past).to_contain_text("Alice, Bruno")
    past.get_by_role("link", name="Transcript").click()
    lines = page.locator("[data-transcript] li")
    expect(lines).to_have_count(2)
    expect(lines.nth(0).locator(".transcript-text")).to_have_text("¿Dónde está la estación?")
    expect(lines.nth(0).locator(".transcript-original")).to_have_text("Where is the station?")
    expect(lines.nth(1).locator(".transcript-text")).to_have_text("Todo recto, a la izquierda.")
    expect(lines.nth(1).locator(".transcript-original")).to_have_count(0)
    screenshot(page, "transcript-390.png")
    with page.expect_download() as vtt:
        page.get_by_role("link", name="WebVTT").click()
    cues = webvtt.read(vtt.value.path())
    assert [(c.start, c.text) for c in cues] == [
        ("00:00:02.000", "Alice: ¿Dónde está la estación?\n(Where is the station?)"),
        ("00:00:06.000", "Bruno: Todo recto, a la izquierda."),
    ]
    with page.expect_download() as subrip:
        page.get_by_role("link", name="SRT").click()
    parsed = list(srt.parse(Path(subrip.value.path()).read_text()))
    assert [(s.start, s.end) for s in parsed] == [
        (timedelta(seconds=2), timedelta(seconds=5)),
        (timedelta(seconds=6), timedelta(seconds=9)),
    ]
    assert webvtt.from_buffer(io.StringIO(Path(vtt.value.path()).read_text()))[1].end == "00:00:09.000"
    # Bruno is no owner: there is nothing to delete.
    expect(page.get_by_role("button", name="Delete this transcript")).to_have_count(0)


def test_the_owner_deletes_a_transcript(stack: Stack, held_call: Held, chromium: Launch) -> None:
    page = new_page(chromium())
    log_in(page, stack.base_url, ALICE.email)
    page.goto(f"{held_call.url}calls/{held_call.call_id}/")
    page.get_by_role("button", name="Delete this transcript").click()
    expect(page.get_by_text("Transcript deleted.")).to_be_visible()
    expect(
        page.get_by_role("region", name="Past calls").get_by_role("link", name="Transcript")
    ).to_have_count(0)
