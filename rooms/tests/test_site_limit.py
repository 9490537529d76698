"""GLOBAL_MONTHLY_SPEND_LIMIT: above every owner's quota, the whole site stops translating at it.

Real Redis for the registry and the channel layer; the media worker is a channel read by the test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import AbstractUser
from django.test import Client

from rooms import selectors, services, tasks
from rooms.models import Room
from tests.support.standin import host, receive
from tests.support.usage import make_report, record

# At the default price ($0.034 a minute) 30 minutes cost $1.02.
THIRTY_MINUTES = 1800.0


def test_it_stops_translation_in_every_room_once_the_site_reaches_its_limit(
    room: Room, outsider: AbstractUser, settings: Any
) -> None:
    settings.GLOBAL_MONTHLY_SPEND_LIMIT = 1.0
    others, _ = services.room_create(owner=outsider, name="Otto's office")
    assert selectors.translation_block_reason(others) is None
    record(make_report(room, seconds_sent=THIRTY_MINUTES))
    # Otto has used nothing of his own quota; the site has used all of its money.
    for blocked in (room, others):
        assert selectors.translation_block_reason(blocked) == selectors.SITE_LIMIT_REACHED
    assert "spending limit for translation has been reached" in selectors.SITE_LIMIT_REACHED
    assert "The call goes on without translation." in selectors.SITE_LIMIT_REACHED


def test_it_has_no_limit_unless_one_is_set(room: Room, owner: AbstractUser, settings: Any) -> None:
    settings.GLOBAL_MONTHLY_SPEND_LIMIT = None
    owner.profile.monthly_minutes_quota = 100_000
    owner.profile.save()
    record(make_report(room, seconds_sent=100 * THIRTY_MINUTES))
    assert selectors.translation_block_reason(room) is None


def test_it_tells_every_live_call_at_once_when_a_report_reaches_the_limit(
    room: Room,
    outsider: AbstractUser,
    settings: Any,
    worker: tuple[Any, str, str],
) -> None:
    layer, channel, _ = worker
    settings.GLOBAL_MONTHLY_SPEND_LIMIT = 1.0
    others, _ = services.room_create(owner=outsider, name="Otto's office")
    for live_room in (room, others):
        host(live_room)
    tasks.record_translation_usage.apply(args=[make_report(room, seconds_sent=THIRTY_MINUTES)]).get()
    told = {m.room_id: m.blocked for m in (receive(layer, channel) for _ in range(2))}  # type: ignore[attr-defined]
    assert told == {
        room.public_id: selectors.SITE_LIMIT_REACHED,
        others.public_id: selectors.SITE_LIMIT_REACHED,
    }


def test_it_says_when_an_owner_has_no_minutes_until_staff_grant_some(
    room: Room, owner: AbstractUser, settings: Any
) -> None:
    settings.MONTHLY_MINUTES_QUOTA = 0
    reason = selectors.translation_block_reason(room)
    assert reason is not None and "no translation minutes this month (the site's staff grant them)" in reason
    owner.profile.monthly_minutes_quota = 60
    owner.profile.save()
    assert selectors.translation_block_reason(room) is None


def test_it_shows_staff_a_banner_at_the_limit(
    room: Room, staff: AbstractUser, settings: Any, client_for: Callable[..., Client]
) -> None:
    settings.GLOBAL_MONTHLY_SPEND_LIMIT = 1.0
    page = client_for(staff).get("/admin/rooms/usagedashboard/").content.decode()
    assert "This month's spending on translation: 0.00 of the site's limit of 1.00." in page
    assert "Translation is off in every call" not in page
    record(make_report(room, seconds_sent=THIRTY_MINUTES))
    page = client_for(staff).get("/admin/rooms/usagedashboard/").content.decode()
    assert "Translation is off in every call" in page
    assert "(1.02) has reached the site" in page
