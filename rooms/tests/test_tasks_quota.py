"""refresh_translation_blocks, run in this process: live calls follow their owner's quota within a run.

Real Redis for the registry and the channel layer; the media worker is a channel read by the test.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest.mock import patch

from django.contrib.auth.models import AbstractUser
from django.test import override_settings

from media_workers.shared.contract import TranslationBlocked
from rooms import live, selectors, services, tasks
from rooms.models import Room
from tests.support.standin import host, receive
from tests.support.usage import make_report, record


def refresh_messages(layer: Any, channel: str) -> list[TranslationBlocked]:
    """Run the task; the messages the worker was told."""
    told = tasks.refresh_translation_blocks.apply().get()
    messages = [receive(layer, channel) for _ in range(told)]
    assert all(isinstance(message, TranslationBlocked) for message in messages)
    return messages  # type: ignore[return-value]


def refresh(layer: Any, channel: str) -> dict[str, str | None]:
    """Run the task; what the worker was told, room by room."""
    return {message.room_id: message.blocked for message in refresh_messages(layer, channel)}


def test_it_blocks_every_live_room_of_an_owner_over_quota(
    room: Room,
    owner: AbstractUser,
    outsider: AbstractUser,
    worker: tuple[Any, str, str],
) -> None:
    layer, channel, _ = worker
    owner.profile.monthly_minutes_quota = 2
    owner.profile.save()
    second, _ = services.room_create(owner=owner, name="Second room")
    others, _ = services.room_create(owner=outsider, name="Otto's office")
    idle, _ = services.room_create(owner=owner, name="Nobody here")
    for live_room in (room, second, others):
        host(live_room)
    record(make_report(room, seconds_sent=150.0))

    told = refresh(layer, channel)
    assert told.keys() == {room.public_id, second.public_id, others.public_id}
    assert idle.public_id not in told
    for blocked in (room, second):
        reason = told[blocked.public_id]
        assert reason is not None and "this month's 2 translation minutes" in reason
    assert told[others.public_id] is None


def test_it_keeps_blocking_a_live_call_charged_to_an_earlier_owner_over_quota(
    room: Room,
    owner: AbstractUser,
    outsider: AbstractUser,
    worker: tuple[Any, str, str],
) -> None:
    """The room changes hands mid-call: its running translations are still charged to the old
    owner, so the old owner's quota decides until they end."""
    layer, channel, _ = worker
    owner.profile.monthly_minutes_quota = 2
    owner.profile.save()
    host(room)
    running = make_report(room, seconds_sent=150.0)
    record(running)
    room.owner = outsider
    room.save()

    [told_worker] = refresh_messages(layer, channel)
    # Translations the worker starts from now on are the new owner's, not the old one's.
    assert told_worker.payer_id == outsider.pk
    reason = told_worker.blocked
    assert reason is not None and "this month's 2 translation minutes" in reason
    assert selectors.translation_block_reason(room) == reason
    # A usage report of the running session stops translation again at once, too.
    with patch.object(live, "send_translation_blocked") as told:
        tasks.record_translation_usage.apply(args=[running]).get()
    assert told.call_args.kwargs["reason"] == reason
    assert told.call_args.kwargs["payer_id"] == outsider.pk

    # Once those translations ended, the new owner's quota decides.
    record({**running, "ended_at": running["started_at"] + 150.0, "final": True})
    assert refresh(layer, channel) == {room.public_id: None}


def test_it_lifts_the_block_when_the_quota_is_raised(
    room: Room,
    owner: AbstractUser,
    worker: tuple[Any, str, str],
) -> None:
    layer, channel, _ = worker
    owner.profile.monthly_minutes_quota = 2
    owner.profile.save()
    host(room)
    record(make_report(room, seconds_sent=150.0))
    assert refresh(layer, channel)[room.public_id] is not None

    # As a staff member's edit in the admin saves it.
    owner.profile.monthly_minutes_quota = 10
    owner.profile.save()
    assert refresh(layer, channel) == {room.public_id: None}


@override_settings(MONTHLY_MINUTES_QUOTA=2)
def test_it_lifts_the_block_in_a_new_month(
    room: Room,
    owner: AbstractUser,
    worker: tuple[Any, str, str],
) -> None:
    layer, channel, _ = worker
    host(room)
    last_month = selectors.month_start() - timedelta(minutes=5)
    record(make_report(room, seconds_sent=600.0, started_at=last_month.timestamp()))
    assert refresh(layer, channel) == {room.public_id: None}
    record(make_report(room, seconds_sent=120.0))
    assert refresh(layer, channel)[room.public_id] is not None


def test_it_tells_nobody_when_no_call_is_live(room: Room, owner: AbstractUser) -> None:
    owner.profile.monthly_minutes_quota = 0
    owner.profile.save()
    assert tasks.refresh_translation_blocks.apply().get() == 0
