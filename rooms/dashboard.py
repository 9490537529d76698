"""Reads for the staff usage dashboard, and which days the daily roll-up holds up to date.

Filtered by owner or room, every figure is one aggregate over the sessions (an index finds
them). Unfiltered, past days whose roll-up still matches their sessions are summed from
DailyUsage and the rest (today, days not rolled up, days changed since) from the sessions,
so the figures equal a sum over the sessions either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, DecimalField, Exists, FloatField, OuterRef, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import CallParticipation, DailyUsage, Room, TranslationUsage, UsageRollup

TOP = 10


@dataclass(frozen=True)
class UsageFilter:
    """Which sessions the dashboard counts: started within [first_day, last_day] (UTC), by owner and room."""

    first_day: date
    last_day: date
    owner: AbstractBaseUser | None = None
    room: Room | None = None

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, datetime.min.time(), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last_day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)

    @property
    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=n) for n in range((self.last_day - self.first_day).days + 1)]


# A session's `updated_at` is stamped before its UPDATE commits, possibly on another host's
# clock: a day counts as changed since its roll-up when a session of it was updated less
# than this before the roll-up started, so a report in flight is never missed.
ROLLUP_SETTLE = timedelta(minutes=2)


def usage_rows(selection: UsageFilter) -> QuerySet[TranslationUsage]:
    rows = TranslationUsage.objects.filter(started_at__gte=selection.start, started_at__lt=selection.end)
    if selection.owner is not None:
        rows = rows.filter(owner=selection.owner)
    if selection.room is not None:
        rows = rows.filter(room=selection.room)
    return rows


def current_rollups() -> QuerySet[UsageRollup]:
    """Roll-ups of days none of whose sessions was updated since (their DailyUsage rows are exact)."""
    changed = TranslationUsage.objects.filter(
        day=OuterRef("day"), updated_at__gte=OuterRef("rolled_up_at") - ROLLUP_SETTLE
    )
    return UsageRollup.objects.filter(~Exists(changed))


def current_rollup_days(*, first_day: date, last_day: date) -> set[date]:
    """Days of the range, before today, whose DailyUsage rows equal a sum over their sessions."""
    last_day = min(last_day, timezone.now().date() - timedelta(days=1))
    days = current_rollups().filter(day__gte=first_day, day__lte=last_day).values_list("day", flat=True)
    return set(days)


def days_to_roll_up(*, today: date) -> list[date]:
    """Yesterday and today, and any earlier day with sessions that is not rolled up or changed since."""
    with_sessions = TranslationUsage.objects.filter(day__lt=today).values_list("day", flat=True)
    current = current_rollups().values_list("day", flat=True)
    stale = set(with_sessions.distinct().order_by()) - set(current)
    return sorted(stale | {today - timedelta(days=1), today})


@dataclass(frozen=True)
class _Sources:
    """Where each figure comes from: sessions for some days, the roll-up for the others."""

    sessions: QuerySet[TranslationUsage]
    rollup: QuerySet[DailyUsage] | None


def _sources(selection: UsageFilter) -> _Sources:
    if selection.owner is not None or selection.room is not None:
        return _Sources(sessions=usage_rows(selection), rollup=None)
    rolled_up = current_rollup_days(first_day=selection.first_day, last_day=selection.last_day)
    if not rolled_up:
        return _Sources(sessions=usage_rows(selection), rollup=None)
    live_days = [day for day in selection.days if day not in rolled_up]
    return _Sources(
        sessions=TranslationUsage.objects.filter(day__in=live_days),
        rollup=DailyUsage.objects.filter(day__in=sorted(rolled_up)),
    )


def _session_totals() -> dict[str, Any]:
    return {
        "sessions": Count("pk"),
        "seconds": Coalesce(Sum("seconds_sent"), 0.0, output_field=FloatField()),
        "dollars": Coalesce(Sum("cost"), Value(Decimal(0)), output_field=DecimalField()),
        # Named apart from the model's fields: a filter on `errors` must mean the column.
        "error_count": Coalesce(Sum("errors"), 0),
        "reconnect_count": Coalesce(Sum("reconnects"), 0),
        "failed_sessions": Count("pk", filter=Q(errors__gt=0) | Q(reconnects__gt=0)),
    }


def _rollup_totals() -> dict[str, Any]:
    return {
        "sessions": Coalesce(Sum("sessions"), 0),
        "seconds": Coalesce(Sum("minutes"), 0.0, output_field=FloatField()) * 60,
        "dollars": Coalesce(Sum("cost"), Value(Decimal(0)), output_field=DecimalField()),
        "error_count": Coalesce(Sum("errors"), 0),
        "reconnect_count": Coalesce(Sum("reconnects"), 0),
        "failed_sessions": Coalesce(Sum("failed_sessions"), 0),
    }


def _zeros() -> dict[str, Any]:
    return {
        "sessions": 0,
        "seconds": 0.0,
        "dollars": Decimal(0),
        "error_count": 0,
        "reconnect_count": 0,
        "failed_sessions": 0,
    }


def _add(total: dict[str, Any], row: dict[str, Any]) -> None:
    for figure in _zeros():
        total[figure] += row[figure]


def _with_minutes(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "minutes": row["seconds"] / 60}


def usage_totals(selection: UsageFilter) -> dict[str, Any]:
    sources = _sources(selection)
    totals = sources.sessions.aggregate(**_session_totals())
    if sources.rollup is not None:
        _add(totals, sources.rollup.aggregate(**_rollup_totals()))
    return _with_minutes(totals)


def _grouped(selection: UsageFilter, *keys: str) -> list[dict[str, Any]]:
    """Figures per group of `keys`, summed over both sources."""
    sources = _sources(selection)
    queries = [sources.sessions.values(*keys).annotate(**_session_totals()).order_by()]
    if sources.rollup is not None:
        queries.append(sources.rollup.values(*keys).annotate(**_rollup_totals()).order_by())
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    for query in queries:
        for row in query:
            key = tuple(row[name] for name in keys)
            if key in found:
                _add(found[key], row)
            else:
                found[key] = row
    return [_with_minutes(row) for row in found.values()]


def usage_per_day(selection: UsageFilter) -> list[dict[str, Any]]:
    """One entry per day of the range, days without sessions included (as zeros)."""
    found = {row["day"]: row for row in _grouped(selection, "day")}
    return [found.get(day, {**_with_minutes(_zeros()), "day": day}) for day in selection.days]


def _top(rows: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda row: row["seconds"], reverse=True)[:limit]


# Names are looked up for the leaders only: joining every session to its owner or room costs more.
def top_owners(selection: UsageFilter, limit: int = TOP) -> list[dict[str, Any]]:
    rows = _top(_grouped(selection, "owner_id"), limit)
    users = get_user_model().objects.filter(pk__in=[row["owner_id"] for row in rows])
    names = {user.pk: {"email": user.email, "username": user.get_username()} for user in users}
    return [{**row, **names.get(row["owner_id"], {"email": None, "username": None})} for row in rows]


def top_rooms(selection: UsageFilter, limit: int = TOP) -> list[dict[str, Any]]:
    rows = _top(_grouped(selection, "room_public_id"), limit)
    rooms = Room.objects.filter(public_id__in=[row["room_public_id"] for row in rows])
    names = dict(rooms.values_list("public_id", "name"))
    return [{**row, "name": names.get(row["room_public_id"])} for row in rows]


def language_pairs(selection: UsageFilter, limit: int = TOP) -> list[dict[str, Any]]:
    return _top(_grouped(selection, "source_language", "language"), limit)


def call_totals(selection: UsageFilter) -> dict[str, Any]:
    """Time people spent in calls (closed participations that started in the range)."""
    rows = CallParticipation.objects.filter(joined_at__gte=selection.start, joined_at__lt=selection.end)
    if selection.owner is not None:
        rows = rows.filter(room__owner=selection.owner)
    if selection.room is not None:
        rows = rows.filter(room=selection.room)
    totals = rows.aggregate(
        joins=Count("pk"),
        people=Count("user", distinct=True),
        seconds=Coalesce(Sum("seconds"), 0.0, output_field=FloatField()),
    )
    return _with_minutes(totals)


CSV_COLUMNS = [
    "session_id",
    "started_at",
    "ended_at",
    "room_public_id",
    "room__name",
    "owner__email",
    "speaker_id",
    "source_language",
    "language",
    "model",
    "worker_id",
    "seconds_sent",
    "seconds_received",
    "tokens_total",
    "cost",
    "errors",
    "reconnects",
    "final",
]


def _cell(value: Any) -> Any:
    # A room name such as "=HYPERLINK(...)" must stay text when the file is opened in a spreadsheet.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def csv_rows(selection: UsageFilter) -> Iterator[list[Any]]:
    """The header, then one row per session, streamed from the database in chunks."""
    yield CSV_COLUMNS
    for row in usage_rows(selection).order_by("started_at").values_list(*CSV_COLUMNS).iterator(2000):
        yield [_cell(value) for value in row]


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: date
    value: float


@dataclass(frozen=True)
class BarChart:
    """A server-side SVG bar chart (no script: the page's policy allows none from elsewhere)."""

    bars: list[Bar]
    maximum: float
    width: int = 600
    height: int = 160


def bar_chart(points: list[tuple[date, float]], *, width: int = 600, height: int = 160) -> BarChart:
    maximum = max((value for _, value in points), default=0.0)
    step = width / max(1, len(points))
    bars = []
    for index, (day, value) in enumerate(points):
        bar_height = 0.0 if maximum <= 0 else height * value / maximum
        bars.append(
            Bar(
                x=round(index * step + step * 0.1, 2),
                y=round(height - bar_height, 2),
                width=round(step * 0.8, 2),
                height=round(bar_height, 2),
                day=day,
                value=value,
            )
        )
    return BarChart(bars=bars, maximum=maximum, width=width, height=height)
