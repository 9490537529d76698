"""The Celery tasks run in this process (apply()): retries, quota enforcement and housekeeping.

Real Redis for the registry and the channel layer; test_tasks_worker.py runs them in a real worker.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import OperationalError
from django.utils import timezone

from media_workers.shared.contract import TranslationBlocked
from media_workers.shared.registry import Registry
from rooms import services, tasks, usage
from rooms.models import CallParticipation, DailyUsage, Invite, Membership, Room, TranslationUsage
from tests.support.standin import host, receive
from tests.support.usage import make_report, record


def test_it_retries_a_report_when_the_database_is_briefly_away(room: Room) -> None:
    report = make_report(room, seconds_sent=42.0)
    real = usage.translation_usage_record
    calls = []

    def flaky(**kwargs: Any) -> Any:
        calls.append(kwargs)
        if len(calls) == 1:
            raise OperationalError("database is locked")
        return real(**kwargs)

    with mock.patch.object(usage, "translation_usage_record", side_effect=flaky):
        result = tasks.record_translation_usage.apply(kwargs={"report": report})
    assert result.successful()
    assert len(calls) == 2
    assert TranslationUsage.objects.get().seconds_sent == 42.0


def test_it_stops_translation_in_the_room_when_the_owner_runs_out(
    room: Room, owner: AbstractUser, worker: tuple[Any, str, str]
) -> None:
    layer, channel, _ = worker
    owner.profile.monthly_minutes_quota = 2
    owner.profile.save()
    host(room)
    report = make_report(room, seconds_sent=100.0)
    tasks.record_translation_usage.apply(kwargs={"report": report}).get()
    tasks.record_translation_usage.apply(kwargs={"report": {**report, "seconds_sent": 120.0}}).get()
    message = receive(layer, channel)
    assert isinstance(message, TranslationBlocked)
    assert message.room_id == room.public_id
    assert "this month's 2 translation minutes" in (message.blocked or "")


def test_it_sends_nothing_to_the_worker_under_quota(room: Room, worker: tuple[Any, str, str]) -> None:
    layer, channel, _ = worker
    host(room)
    tasks.record_translation_usage.apply(kwargs={"report": make_report(room)}).get()
    with pytest.raises(TimeoutError):
        async_to_sync(asyncio.wait_for)(layer.receive(channel), 0.5)


def test_it_rolls_up_usage_per_day_owner_room_and_language_pair(
    room: Room, owner: AbstractUser, member: AbstractUser
) -> None:
    mateo = room.memberships.get(user=member)
    olivia = room.memberships.get(user=owner)
    now = timezone.now().timestamp()
    yesterday = now - 86400
    record(make_report(room, mateo, language="en", seconds_sent=60, errors=1, started_at=now - 10))
    record(make_report(room, mateo, language="en", seconds_sent=120, started_at=now - 5))
    record(make_report(room, olivia, language="es", seconds_sent=30, reconnects=2, started_at=now - 5))
    record(make_report(room, mateo, language="en", seconds_sent=600, started_at=yesterday))
    assert tasks.rollup_daily_usage.apply().get() == 3
    # Running it again replaces the rows instead of adding to them.
    assert tasks.rollup_daily_usage.apply().get() == 3
    today = timezone.now().date()
    rows = {
        (r.day, r.source_language, r.language): (r.sessions, r.minutes, r.errors, r.reconnects)
        for r in DailyUsage.objects.filter(owner=owner, room=room)
    }
    assert rows == {
        (today, "es", "en"): (2, 3.0, 1, 0),
        (today, "en", "es"): (1, 0.5, 0, 2),
        (today - timedelta(days=1), "es", "en"): (1, 10.0, 0, 0),
    }


def test_it_deletes_invites_after_the_grace_period(room: Room, owner: AbstractUser, settings: Any) -> None:
    settings.INVITE_EXPIRED_GRACE_DAYS = 30
    now = timezone.now()
    keep = services.invite_create(room=room, created_by=owner, expires_in_days=7, max_uses=None).invite
    recent = services.invite_create(room=room, created_by=owner, expires_in_days=7, max_uses=None).invite
    Invite.objects.filter(pk=recent.pk).update(expires_at=now - timedelta(days=29))
    old = services.invite_create(room=room, created_by=owner, expires_in_days=7, max_uses=None).invite
    Invite.objects.filter(pk=old.pk).update(expires_at=now - timedelta(days=31))
    revoked = services.invite_create(room=room, created_by=owner, expires_in_days=7, max_uses=None).invite
    Invite.objects.filter(pk=revoked.pk).update(revoked_at=now - timedelta(days=31))
    tasks.expire_invites.apply().get()
    remaining = set(Invite.objects.values_list("pk", flat=True))
    assert {keep.pk, recent.pk} <= remaining
    assert not {old.pk, revoked.pk} & remaining


def test_it_purges_idle_guests_but_keeps_the_owners_usage(
    room: Room, token: str, guest: AbstractUser, settings: Any
) -> None:
    settings.GUEST_RETENTION_DAYS = 30
    long_ago = timezone.now() - timedelta(days=31)
    active = services.guest_join(token=token, display_name="Ines", language="it")
    in_call = services.guest_join(token=token, display_name="Jon", language="fr")
    users = get_user_model().objects
    users.filter(pk__in=[guest.pk, active.pk, in_call.pk]).update(last_login=long_ago)
    users.filter(pk=active.pk).update(last_login=timezone.now())
    type(guest.profile).objects.filter(user__in=[guest, active, in_call]).update(created_at=long_ago)
    CallParticipation.objects.create(room=room, user=in_call, joined_at=timezone.now() - timedelta(days=1))
    record(make_report(room, Membership.objects.get(user=guest), seconds_sent=60))

    assert tasks.purge_guests.apply().get() == 1
    assert not users.filter(pk=guest.pk).exists()
    assert users.filter(pk__in=[active.pk, in_call.pk]).count() == 2
    usage_row = TranslationUsage.objects.get()
    assert (usage_row.speaker, usage_row.owner, usage_row.seconds_sent) == (None, room.owner, 60.0)


def test_it_ends_calls_whose_worker_died(room: Room, member: AbstractUser) -> None:
    stay = CallParticipation.objects.create(room=room, user=member)

    async def assign_to_a_dead_worker() -> None:
        registry = Registry()
        # The assignment as a worker left it before it was SIGKILLed (its heartbeat has expired).
        await registry.redis.set(f"{registry.prefix}room:{room.public_id}", "dead-worker")
        await registry.redis.sadd(f"{registry.prefix}worker:dead-worker:rooms", room.public_id)
        await registry.close()

    async_to_sync(assign_to_a_dead_worker)()
    assert tasks.end_orphaned_calls.apply().get() == 1
    stay.refresh_from_db()
    assert stay.left_at is not None and stay.seconds is not None

    async def assignment() -> str | None:
        registry = Registry()
        try:
            return await registry.room_worker_id(room.public_id)
        finally:
            await registry.close()

    assert async_to_sync(assignment)() is None


def test_it_leaves_calls_on_a_live_worker_alone(
    room: Room, member: AbstractUser, worker: tuple[Any, str, str]
) -> None:
    host(room)
    stay = CallParticipation.objects.create(room=room, user=member)
    assert tasks.end_orphaned_calls.apply().get() == 0
    stay.refresh_from_db()
    assert stay.left_at is None
