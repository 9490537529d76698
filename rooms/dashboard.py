"""Reads for the staff usage dashboard: every figure is one aggregate query over the filtered sessions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, DecimalField, F, FloatField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncDate

from .models import CallParticipation, Room, TranslationUsage

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


def usage_rows(selection: UsageFilter) -> QuerySet[TranslationUsage]:
    rows = TranslationUsage.objects.filter(started_at__gte=selection.start, started_at__lt=selection.end)
    if selection.owner is not None:
        rows = rows.filter(owner=selection.owner)
    if selection.room is not None:
        rows = rows.filter(room=selection.room)
    return rows


def _totals() -> dict[str, Any]:
    return {
        "sessions": Count("pk"),
        "seconds": Coalesce(Sum("seconds_sent"), 0.0, output_field=FloatField()),
        # Named apart from the model's fields: a filter on `errors` must mean the column.
        "seconds_heard": Coalesce(Sum("seconds_received"), 0.0, output_field=FloatField()),
        "dollars": Coalesce(Sum("cost"), Value(Decimal(0)), output_field=DecimalField()),
        "error_count": Coalesce(Sum("errors"), 0),
        "reconnect_count": Coalesce(Sum("reconnects"), 0),
        "failed_sessions": Count("pk", filter=Q(errors__gt=0) | Q(reconnects__gt=0)),
    }


def _with_minutes(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "minutes": row["seconds"] / 60}


def usage_totals(selection: UsageFilter) -> dict[str, Any]:
    return _with_minutes(usage_rows(selection).aggregate(**_totals()))


def usage_per_day(selection: UsageFilter) -> list[dict[str, Any]]:
    """One entry per day of the range, days without sessions included (as zeros)."""
    found = {
        row["day"]: _with_minutes(row)
        for row in usage_rows(selection)
        .annotate(day=TruncDate("started_at"))
        .values("day")
        .annotate(**_totals())
        .order_by("day")
    }
    empty = {
        "sessions": 0,
        "seconds": 0.0,
        "minutes": 0.0,
        "dollars": Decimal(0),
        "error_count": 0,
        "reconnect_count": 0,
    }
    return [{"day": day, **found.get(day, empty)} for day in selection.days]


def top_owners(selection: UsageFilter, limit: int = TOP) -> list[dict[str, Any]]:
    rows = (
        usage_rows(selection)
        .values("owner_id", email=F("owner__email"), username=F("owner__username"))
        .annotate(**_totals())
        .order_by("-seconds")[:limit]
    )
    return [_with_minutes(row) for row in rows]


def top_rooms(selection: UsageFilter, limit: int = TOP) -> list[dict[str, Any]]:
    rows = (
        usage_rows(selection)
        .values("room_public_id", name=F("room__name"))
        .annotate(**_totals())
        .order_by("-seconds")[:limit]
    )
    return [_with_minutes(row) for row in rows]


def language_pairs(selection: UsageFilter, limit: int = TOP) -> list[dict[str, Any]]:
    rows = (
        usage_rows(selection)
        .values("source_language", "language")
        .annotate(**_totals())
        .order_by("-seconds")[:limit]
    )
    return [_with_minutes(row) for row in rows]


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
