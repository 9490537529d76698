"""Celery tasks: usage reports from media workers, and periodic housekeeping (see CELERY_BEAT_SCHEDULE).

Each task takes plain data, calls a service and retries when the database is briefly away.
Every one is idempotent: Celery may deliver a task twice (acks_late) and beat may overlap.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone
from redis.exceptions import RedisError

from media_workers.shared.contract import TRANSCRIPT_TASK, USAGE_TASK, UsageReport, UtteranceReport, from_dict

from . import dashboard, live, selectors, services, transcripts, usage

logger = logging.getLogger(__name__)

# Transient failures worth another try: a locked or restarting database, Redis away.
RETRY_ON = (OperationalError, InterfaceError, RedisError)
RETRY = {
    "autoretry_for": RETRY_ON,
    "retry_backoff": 1,
    "retry_backoff_max": 120,
    "retry_jitter": True,
    "max_retries": 12,
}


@shared_task(name=USAGE_TASK, **RETRY)
def record_translation_usage(report: dict[str, Any]) -> None:
    """Store a session's running totals; stop translation once the owner or the site is over its limit."""
    # A report that does not fit the contract raises ContractError: not retried, logged by Celery.
    row = usage.translation_usage_record(report=from_dict(UsageReport, report))
    if selectors.site_spend().reached:
        # Every call on the site stops translating now, not at the next periodic refresh.
        logger.warning("the site's monthly translation spending limit is reached")
        refresh_translation_blocks()
        return
    if row is None or row.room is None:
        return
    reason = selectors.translation_block_reason(row.room)
    if reason is not None:
        logger.info("room=%s owner=%s: monthly quota used up", row.room_public_id, row.owner_id)
        live.tell_room_translation_blocked(
            room_id=row.room_public_id, reason=reason, payer_id=row.room.owner_id
        )


@shared_task(name="rooms.tasks.refresh_translation_blocks", **RETRY)
def refresh_translation_blocks() -> int:
    """Tell the worker of every live call whether its owner's quota and the site's limit allow
    translation now.

    Lifts a block once the quota or limit is raised or a new month starts, and blocks an owner's
    other rooms once one of them used the quota up. A worker ignores a message that changes nothing.
    Returns how many rooms were told.
    """
    channels = live.room_channels()
    reasons = selectors.translation_block_reasons(room_public_ids=list(channels))
    # The owner goes too: after a handover, translations started from now on are the new owner's.
    owners = selectors.room_owner_ids(room_public_ids=list(reasons))
    for room_id, reason in reasons.items():
        live.send_translation_blocked(
            channel=channels[room_id], room_id=room_id, reason=reason, payer_id=owners.get(room_id)
        )
    return len(reasons)


@shared_task(name="rooms.tasks.rollup_daily_usage", **RETRY)
def rollup_daily_usage() -> int:
    """Recompute the roll-up of today, yesterday and any day missing or changed since; returns rows."""
    days = dashboard.days_to_roll_up(today=timezone.now().date())
    return sum(usage.daily_usage_rollup(day=day) for day in days)


@shared_task(name="rooms.tasks.expire_invites", **RETRY)
def expire_invites() -> int:
    return services.invites_expire(grace_days=settings.INVITE_EXPIRED_GRACE_DAYS)


@shared_task(name="rooms.tasks.end_orphaned_calls", **RETRY)
def end_orphaned_calls() -> int:
    """Close call records whose media worker died, and free rooms still assigned to dead workers."""
    released = live.release_rooms_of_dead_workers()
    if released:
        logger.info("released %d rooms held by dead media workers", released)
    orphans = live.rooms_without_live_worker(selectors.open_participation_rooms())
    return usage.participations_close_in_rooms(room_public_ids=orphans) if orphans else 0


@shared_task(name="rooms.tasks.purge_guests", **RETRY)
def purge_guests() -> int:
    return services.guests_purge(retention_days=settings.GUEST_RETENTION_DAYS)


@shared_task(name=TRANSCRIPT_TASK, **RETRY)
def record_utterance(report: dict[str, Any]) -> None:
    """Keep one finished utterance of a transcribed call (idempotent on its utterance id)."""
    # One that does not fit the contract raises ContractError: not retried, logged by Celery.
    transcripts.utterance_record(report=from_dict(UtteranceReport, report))


@shared_task(name="rooms.tasks.purge_transcripts", **RETRY)
def purge_transcripts() -> int:
    return transcripts.transcripts_purge(retention_days=settings.TRANSCRIPT_RETENTION_DAYS)
