"""Monthly quotas: owners see what they used, and a call in a room over quota is not translated."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from channels import DEFAULT_CHANNEL_LAYER
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AbstractUser
from django.test import Client, override_settings

from rooms.models import CallParticipation, Room
from rooms.selectors import translation_block_reason
from tests.support.people import room_socket
from tests.support.standin import announce_worker, retire_worker
from tests.support.usage import make_report, record

SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"


def use_minutes(room: Room, minutes: float, **changes: Any) -> None:
    record(make_report(room, seconds_sent=minutes * 60, **changes))


@override_settings(MONTHLY_MINUTES_QUOTA=600)
def test_it_shows_the_owner_their_months_usage(
    room: Room, owner: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    use_minutes(room, 90.5)
    body = client_for(owner).get("/profile/").content.decode()
    assert "You have used 90.5 of your 600 translation minutes" in body
    assert "509.5 minutes are left" in body


@override_settings(
    MONTHLY_MINUTES_QUOTA=600,
    MODEL_PRICES_PER_MINUTE={"gpt-realtime-translate": 0.034},
    MODEL_PRICES_PER_MILLION_TOKENS={"gpt-realtime-2.1": {"output_audio": 64.0}},
)
def test_it_counts_an_interpreter_session_as_the_minutes_its_cost_would_buy(
    room: Room, owner: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    # 34,000 output audio tokens cost $2.176: 64 minutes at the translation model's $0.034.
    use_minutes(room, 1.0, model="gpt-realtime-2.1", language="tr", tokens={"output_audio": 34_000})
    use_minutes(room, 10.0)
    body = client_for(owner).get("/profile/").content.decode()
    assert "You have used 74.0 of your 600 translation minutes" in body


def test_it_counts_only_this_calendar_month(
    room: Room, owner: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    owner.profile.monthly_minutes_quota = 100
    owner.profile.save()
    first_of_month = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    use_minutes(room, 70, started_at=(first_of_month - timedelta(seconds=1)).timestamp())
    use_minutes(room, 20, started_at=(first_of_month + timedelta(seconds=1)).timestamp())
    body = client_for(owner).get("/profile/").content.decode()
    assert "You have used 20.0 of your 100 translation minutes" in body


def test_it_counts_the_new_months_part_of_a_session_that_runs_into_it(
    room: Room, owner: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    """A session running into a new month is reported in two parts (media_workers/runtime/translation.py)."""
    owner.profile.monthly_minutes_quota = 100
    owner.profile.save()
    boundary = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()
    use_minutes(room, 50, started_at=boundary - 3000, ended_at=boundary, final=True)
    use_minutes(room, 30, started_at=boundary)
    body = client_for(owner).get("/profile/").content.decode()
    assert "You have used 30.0 of your 100 translation minutes" in body


def test_it_counts_usage_against_the_owner_not_the_speaker(
    room: Room, member: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    record(make_report(room, room.memberships.get(user=member), seconds_sent=600))
    body = client_for(member).get("/profile/").content.decode()
    assert "You have used 0.0 of your" in body


def test_it_gives_a_reason_once_the_owner_is_at_quota(room: Room, owner: AbstractUser) -> None:
    owner.profile.monthly_minutes_quota = 10
    owner.profile.save()
    use_minutes(room, 9.9)
    assert translation_block_reason(room) is None
    use_minutes(room, 0.1)
    reason = translation_block_reason(room)
    assert reason is not None and "10 translation minutes" in reason


def test_it_lets_staff_set_a_persons_quota_in_the_admin(
    owner: AbstractUser, staff: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    page = client_for(staff).get(f"/admin/rooms/profile/{owner.profile.pk}/change/").content.decode()
    assert 'name="monthly_minutes_quota"' in page


# --- The signalling connection: joining a call ------------------------------------------------


@pytest.fixture
async def worker() -> AsyncIterator[tuple[Any, str]]:
    """A stand-in media worker: a channel of its own, registered as a live worker."""
    layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    channel = await layer.new_channel(prefix="mediaworker")
    await announce_worker("quota-worker", channel=channel)
    yield layer, channel
    await retire_worker("quota-worker")


async def offer(room: Room, user: AbstractUser) -> WebsocketCommunicator:
    comm = await database_sync_to_async(room_socket)(room.public_id, user)
    await comm.connect()
    assert json.loads(await comm.receive_from(timeout=5))["type"] == "hello"
    await comm.send_to(text_data=json.dumps({"type": "offer", "sdp": SDP}))
    return comm


@pytest.mark.django_db(transaction=True)
async def test_it_tells_the_worker_translation_is_off_when_a_call_starts_over_quota(
    room: Room, owner: AbstractUser, member: AbstractUser, worker: tuple[Any, str]
) -> None:
    layer, channel = worker
    owner.profile.monthly_minutes_quota = 1
    await database_sync_to_async(owner.profile.save)()
    await database_sync_to_async(use_minutes)(room, 1)
    comm = await offer(room, member)
    join = await layer.receive(channel)
    assert join["type"] == "participant.join"
    assert "1 translation minutes" in join["translation_blocked"]
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_it_lets_translation_run_under_quota(
    room: Room, member: AbstractUser, worker: tuple[Any, str]
) -> None:
    layer, channel = worker
    comm = await offer(room, member)
    join = await layer.receive(channel)
    assert join["translation_blocked"] is None
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_it_meters_who_was_in_the_call_and_for_how_long(
    room: Room, member: AbstractUser, worker: tuple[Any, str]
) -> None:
    layer, channel = worker
    comm = await offer(room, member)
    await layer.receive(channel)
    # Renegotiating (a second offer) is the same stay in the call.
    await comm.send_to(text_data=json.dumps({"type": "offer", "sdp": SDP}))
    await layer.receive(channel)
    stays = await database_sync_to_async(list)(CallParticipation.objects.all())
    assert [(s.user_id, s.room_id, s.left_at) for s in stays] == [(member.pk, room.pk, None)]

    await comm.send_to(text_data=json.dumps({"type": "leave"}))
    assert (await layer.receive(channel))["type"] == "participant.leave"
    await comm.send_to(text_data=json.dumps({"type": "offer", "sdp": SDP}))
    await layer.receive(channel)
    await comm.disconnect()

    stays = await database_sync_to_async(list)(CallParticipation.objects.order_by("joined_at"))
    assert len(stays) == 2
    for stay in stays:
        assert stay.left_at is not None and stay.left_at >= stay.joined_at
        assert stay.seconds == pytest.approx((stay.left_at - stay.joined_at).total_seconds())
