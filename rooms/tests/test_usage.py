"""Metering: a media worker's usage reports become one row per translation session, charged to the owner."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django.contrib.auth.models import AbstractUser
from django.test import override_settings

from rooms.models import Membership, Room, TranslationUsage
from tests.support.usage import make_report, record


@pytest.fixture
def speaker(room: Room, owner: AbstractUser) -> Membership:
    return room.memberships.get(user=owner)


def test_it_records_a_session_charged_to_the_rooms_owner(
    room: Room, owner: AbstractUser, member: AbstractUser
) -> None:
    mateo = room.memberships.get(user=member)
    record(make_report(room, mateo, language="en", seconds_sent=90.0, errors=1, reconnects=2))
    usage = TranslationUsage.objects.get()
    assert usage.owner == owner
    assert usage.room == room
    assert usage.speaker == mateo
    assert (usage.source_language, usage.language) == ("es", "en")
    assert (usage.seconds_sent, usage.errors, usage.reconnects) == (90.0, 1, 2)
    assert usage.cost == Decimal("0.051000")  # 1.5 minutes at $0.034


def test_it_keeps_the_latest_totals_when_a_report_repeats(room: Room, speaker: Membership) -> None:
    report = make_report(room, speaker, seconds_sent=45.0)
    record(report)
    record(report)
    record({**report, "seconds_sent": 60.0, "seconds_received": 50.0})
    record({**report, "seconds_sent": 60.0, "seconds_received": 50.0})
    usage = TranslationUsage.objects.get()
    assert (usage.seconds_sent, usage.seconds_received) == (60.0, 50.0)


def test_it_never_lowers_totals_for_a_late_report(room: Room, speaker: Membership) -> None:
    report = make_report(room, speaker)
    ended = time.time()
    record({**report, "seconds_sent": 75.0, "errors": 2, "ended_at": ended, "final": True})
    record({**report, "seconds_sent": 60.0, "errors": 1})
    usage = TranslationUsage.objects.get()
    assert (usage.seconds_sent, usage.errors, usage.final) == (75.0, 2, True)
    assert usage.ended_at is not None and abs(usage.ended_at.timestamp() - ended) < 0.001
    assert usage.cost == Decimal("0.042500")


def test_it_keeps_the_first_owner_when_the_room_changes_hands(
    room: Room, owner: AbstractUser, member: AbstractUser, speaker: Membership
) -> None:
    report = make_report(room, speaker)
    record(report)
    Room.objects.filter(pk=room.pk).update(owner=member)
    record({**report, "seconds_sent": 40.0})
    assert TranslationUsage.objects.get().owner == owner


def test_it_charges_the_payer_of_the_session_when_the_room_changed_hands_before_its_first_report(
    room: Room, owner: AbstractUser, member: AbstractUser, speaker: Membership
) -> None:
    report = make_report(room, speaker)
    Room.objects.filter(pk=room.pk).update(owner=member)
    record(report)
    assert TranslationUsage.objects.get().owner == owner


def test_it_charges_the_payer_for_a_room_deleted_before_the_sessions_first_report(
    room: Room, owner: AbstractUser, speaker: Membership
) -> None:
    report = make_report(room, speaker, seconds_sent=45.0, final=True)
    room_id = room.public_id
    room.delete()
    record(report)
    usage = TranslationUsage.objects.get()
    assert (usage.owner, usage.room, usage.room_public_id, usage.seconds_sent) == (owner, None, room_id, 45.0)


def test_it_keeps_usage_when_the_room_is_deleted(room: Room, speaker: Membership) -> None:
    record(make_report(room, speaker, seconds_sent=120.0))
    room_id = room.public_id
    room.delete()
    usage = TranslationUsage.objects.get()
    assert (usage.room, usage.room_public_id, usage.seconds_sent) == (None, room_id, 120.0)


@override_settings(MODEL_PRICES_PER_MINUTE={"gpt-realtime-translate": 0.034, "gpt-next": 0.5})
def test_it_prices_each_model_from_the_setting(room: Room, speaker: Membership) -> None:
    record(make_report(room, speaker, model="gpt-next", seconds_sent=120.0))
    record(make_report(room, speaker, model="unknown-model", seconds_sent=120.0))
    costs = dict(TranslationUsage.objects.values_list("model", "cost"))
    assert costs == {"gpt-next": Decimal("1.000000"), "unknown-model": Decimal("0.000000")}


INTERPRETER_PRICES = {
    "gpt-realtime-2.1": {
        "input_text": 4.0,
        "input_audio": 32.0,
        "cached_text": 0.4,
        "cached_audio": 0.4,
        "output_text": 16.0,
        "output_audio": 64.0,
    }
}
TURKISH_TOKENS = {
    "input_text": 100_000,
    "input_audio": 10_000,
    "cached_text": 50_000,
    "cached_audio": 0,
    "output_text": 2_000,
    "output_audio": 20_000,
}


@override_settings(MODEL_PRICES_PER_MILLION_TOKENS=INTERPRETER_PRICES)
def test_it_charges_an_interpreter_session_by_its_tokens(room: Room, speaker: Membership) -> None:
    record(make_report(room, speaker, language="tr", model="gpt-realtime-2.1", tokens=TURKISH_TOKENS))
    usage = TranslationUsage.objects.get()
    # 0.4 + 0.32 + 0.02 + 0 + 0.032 + 1.28: by token class, not by the 30 s of audio sent.
    assert usage.cost == Decimal("2.052000")
    assert usage.tokens == TURKISH_TOKENS
    assert usage.tokens_total == 182_000
    assert usage.model == "gpt-realtime-2.1"


@override_settings(MODEL_PRICES_PER_MILLION_TOKENS=INTERPRETER_PRICES)
def test_it_keeps_the_token_classes_of_the_latest_totals(room: Room, speaker: Membership) -> None:
    report = make_report(room, speaker, language="tr", model="gpt-realtime-2.1")
    later = {**TURKISH_TOKENS, "output_audio": 40_000}
    record({**report, "tokens": later})
    record({**report, "tokens": TURKISH_TOKENS})
    usage = TranslationUsage.objects.get()
    assert usage.tokens == later
    assert usage.tokens_total == 202_000
    assert usage.cost == Decimal("3.332000")


@override_settings(MODEL_PRICES_PER_MILLION_TOKENS={})
def test_it_charges_nothing_for_tokens_of_a_model_without_prices(room: Room, speaker: Membership) -> None:
    record(make_report(room, speaker, model="gpt-realtime-unknown", tokens=TURKISH_TOKENS))
    usage = TranslationUsage.objects.get()
    assert usage.cost == Decimal(0)
    assert usage.tokens_total == 182_000
