"""Writes for metering: translation usage reports, time in calls, and the daily roll-up.

Media workers report each translation session's running totals (never increments) through
Celery; recording one keeps the highest totals seen, so a repeated, late or out-of-order
report never double-counts and never lowers what was already recorded.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Count, DecimalField, F, FloatField, Q, Sum, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from media_workers.shared.contract import UsageReport

from .models import Call, CallParticipation, DailyUsage, Membership, Room, TranslationUsage, UsageRollup

logger = logging.getLogger(__name__)


def price_per_minute(model: str) -> Decimal:
    price = settings.MODEL_PRICES_PER_MINUTE.get(model)
    if price is None:
        logger.warning("no price per minute for model %r in MODEL_PRICES_PER_MINUTE: cost 0", model)
        return Decimal(0)
    return Decimal(str(price))


def report_cost(report: UsageReport) -> Decimal:
    """What a report's totals cost: by the token for token-billed models, else by the minute sent."""
    if not report.tokens:
        return price_per_minute(report.model) * Decimal(str(report.seconds_sent)) / 60
    prices = settings.MODEL_PRICES_PER_MILLION_TOKENS.get(report.model)
    if prices is None:
        logger.warning(
            "no token prices for model %r in MODEL_PRICES_PER_MILLION_TOKENS: cost 0", report.model
        )
        return Decimal(0)
    cost = Decimal(0)
    for name, count in report.tokens.items():
        price = prices.get(name)
        if price is None:
            logger.warning("no price for %r tokens of model %r: those cost 0", name, report.model)
            continue
        cost += Decimal(str(price)) * count / 1_000_000
    return cost


def _when(stamp: float | None) -> datetime | None:
    return None if stamp is None else datetime.fromtimestamp(stamp, tz=UTC)


def _first_row(report: UsageReport) -> TranslationUsage | None:
    """Create the session's row at its first report, charged to the payer named in the report."""
    room = Room.objects.filter(public_id=report.room_id).first()
    if room is None:
        # Deleted mid-call: the usage happened all the same and its payer is in the report.
        logger.info("room=%s session=%s: usage for a room that is gone", report.room_id, report.session_id)
    speaker = (
        Membership.objects.filter(pk=report.speaker_id, room=room).select_related("user__profile").first()
        if room is not None and str(report.speaker_id).isdigit()
        else None
    )
    started_at = datetime.fromtimestamp(report.started_at, tz=UTC)
    try:
        with transaction.atomic():
            return TranslationUsage.objects.create(
                session_id=report.session_id,
                room=room,
                room_public_id=report.room_id,
                owner_id=report.payer_id,
                speaker=speaker,
                source_language=speaker.user.profile.speak_language if speaker else "",
                language=report.language,
                model=report.model,
                worker_id=report.worker_id,
                started_at=started_at,
                day=started_at.date(),
            )
    except IntegrityError:
        # Another delivery of the same session's first report got there first.
        return None


@transaction.atomic
def translation_usage_record(*, report: UsageReport) -> TranslationUsage | None:
    """Store a session's latest totals (its row is made at its first report)."""
    if not TranslationUsage.objects.filter(session_id=report.session_id).exists():
        _first_row(report)
    cost = report_cost(report)
    tokens_total = sum(report.tokens.values())
    changes: dict[str, Any] = {
        # One UPDATE whose values never go down: it is its own guard against late reports.
        "seconds_sent": Greatest(F("seconds_sent"), Value(float(report.seconds_sent))),
        "seconds_received": Greatest(F("seconds_received"), Value(float(report.seconds_received))),
        "errors": Greatest(F("errors"), Value(int(report.errors))),
        "reconnects": Greatest(F("reconnects"), Value(int(report.reconnects))),
        "cost": Greatest(F("cost"), Value(cost.quantize(Decimal("0.000001")), output_field=DecimalField())),
        "tokens_total": Greatest(F("tokens_total"), Value(tokens_total)),
        "updated_at": timezone.now(),
    }
    if report.first_audio_at is not None:
        changes["first_audio_at"] = Coalesce(F("first_audio_at"), Value(_when(report.first_audio_at)))
    if report.ended_at is not None:
        ended = Value(_when(report.ended_at))
        # SQLite's MAX() of a NULL is NULL where PostgreSQL's GREATEST() skips it.
        changes["ended_at"] = Coalesce(Greatest(F("ended_at"), ended), ended)
    if report.final:
        changes["final"] = True
    updated = TranslationUsage.objects.filter(session_id=report.session_id).update(**changes)
    if not updated:
        return None
    if report.tokens:
        # The classes of the report with the highest total so far (this one, unless a later came first).
        TranslationUsage.objects.filter(session_id=report.session_id, tokens_total=tokens_total).update(
            tokens=report.tokens
        )
    return TranslationUsage.objects.select_related("room", "owner").get(session_id=report.session_id)


@transaction.atomic
def participation_join(
    *, room: Room, user: AbstractBaseUser, participation_id: int | None
) -> CallParticipation:
    """Start metering a person's time in the call, or go on with their open participation."""
    if participation_id is not None:
        current = CallParticipation.objects.filter(pk=participation_id, left_at__isnull=True).first()
        if current is not None:
            return current
    participation = CallParticipation.objects.create(room=room, user=user, call=_current_call(room))
    logger.info("room=%s user=%s: joined call %s", room.public_id, user.pk, participation.call_id)
    return participation


def _current_call(room: Room) -> Call:
    """The room's call under way, or a new one: the first person in starts it."""
    # The room's row is the lock (PostgreSQL): two first joiners at once make one call.
    list(Room.objects.select_for_update().filter(pk=room.pk).values_list("pk", flat=True))
    call = Call.objects.filter(room=room, ended_at__isnull=True).first()
    if call is None:
        call = Call.objects.create(room=room)
        logger.info("room=%s: call %s started", room.public_id, call.pk)
    return call


def _close(participations: Any, now: datetime) -> int:
    open_rows = participations.filter(left_at__isnull=True)
    rooms = sorted(set(open_rows.values_list("room_id", flat=True)))
    # The rooms' rows are the lock (PostgreSQL), as when a call starts: of two last people
    # leaving at once, the second sees the first gone and ends the call.
    list(Room.objects.select_for_update().filter(pk__in=rooms).order_by("pk").values_list("pk", flat=True))
    rows = list(open_rows.values_list("pk", "joined_at", "call_id"))
    for pk, joined_at, _call_id in rows:
        open_rows.filter(pk=pk).update(left_at=now, seconds=max(0.0, (now - joined_at).total_seconds()))
    # The last one out ends the call.
    calls = {call_id for _pk, _joined, call_id in rows if call_id is not None}
    Call.objects.filter(pk__in=calls, ended_at__isnull=True).exclude(
        participations__left_at__isnull=True
    ).update(ended_at=now)
    return len(rows)


@transaction.atomic
def participation_leave(*, participation_id: int) -> None:
    """Stop metering a person's time in the call (a second leave changes nothing)."""
    _close(CallParticipation.objects.filter(pk=participation_id), timezone.now())


@transaction.atomic
def participations_close_in_rooms(*, room_public_ids: list[str]) -> int:
    """Close every open participation in these rooms (their calls ended with their worker)."""
    closed = _close(CallParticipation.objects.filter(room__public_id__in=room_public_ids), timezone.now())
    if closed:
        logger.info("closed %d participations left open in rooms %s", closed, ", ".join(room_public_ids))
    return closed


@transaction.atomic
def daily_usage_rollup(*, day: date) -> int:
    """Recompute one day's roll-up (UTC) from its sessions and note when; returns the rows written."""
    # Taken before the sessions are read: any session of the day updated after this (less a
    # margin, see dashboard.ROLLUP_SETTLE) makes the day stale again.
    rolled_up_at = timezone.now()
    # Also locks the day's row (PostgreSQL), so two roll-ups of one day never interleave.
    UsageRollup.objects.update_or_create(day=day, defaults={"rolled_up_at": rolled_up_at})
    groups = (
        TranslationUsage.objects.filter(day=day)
        .values("owner_id", "room_id", "room_public_id", "source_language", "language")
        .annotate(
            n=Count("pk"),
            seconds=Sum("seconds_sent", output_field=FloatField()),
            total_cost=Sum("cost"),
            total_errors=Sum("errors"),
            total_reconnects=Sum("reconnects"),
            failed=Count("pk", filter=Q(errors__gt=0) | Q(reconnects__gt=0)),
        )
        .order_by()
    )
    rows = [
        DailyUsage(
            day=day,
            owner_id=group["owner_id"],
            room_id=group["room_id"],
            room_public_id=group["room_public_id"],
            source_language=group["source_language"],
            language=group["language"],
            sessions=group["n"],
            minutes=(group["seconds"] or 0.0) / 60,
            cost=group["total_cost"] or 0,
            errors=group["total_errors"] or 0,
            reconnects=group["total_reconnects"] or 0,
            failed_sessions=group["failed"],
        )
        for group in groups
    ]
    DailyUsage.objects.filter(day=day).delete()
    DailyUsage.objects.bulk_create(rows, batch_size=1000)
    logger.info("daily usage rolled up for %s: %d rows", day, len(rows))
    return len(rows)
