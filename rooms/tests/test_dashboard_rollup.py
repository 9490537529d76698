"""The unfiltered dashboard sums past days from the daily roll-up, yet equals a sum over the sessions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import AbstractUser
from django.test import Client
from django.utils import timezone

from rooms import dashboard, services, tasks
from rooms.models import DailyUsage, Room, TranslationUsage
from tests.support.usage import make_report, record

DAY = 86400


def an_hour_passes() -> None:
    """Reports so far arrived an hour ago: the roll-up that follows sees them as settled."""
    TranslationUsage.objects.update(updated_at=timezone.now() - timedelta(hours=1))


def by_sessions(key: Callable[[TranslationUsage], Any]) -> dict[Any, tuple[Any, ...]]:
    """The direct aggregate: every session of the last 30 days, summed per key in Python."""
    first_day = timezone.now().date() - timedelta(days=29)
    sums: dict[Any, list[Any]] = defaultdict(lambda: [0, 0.0, Decimal(0), 0, 0, 0])
    for row in TranslationUsage.objects.filter(started_at__date__gte=first_day):
        total = sums[key(row)]
        total[0] += 1
        total[1] += row.seconds_sent
        total[2] += row.cost
        total[3] += row.errors
        total[4] += row.reconnects
        total[5] += 1 if row.errors or row.reconnects else 0
    return {name: tuple(total) for name, total in sums.items()}


def figures(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["sessions"],
        row["seconds"],
        row["dollars"],
        row["error_count"],
        row["reconnect_count"],
        row["failed_sessions"],
    )


def assert_same(shown: dict[Any, tuple[Any, ...]], expected: dict[Any, tuple[Any, ...]]) -> None:
    assert shown.keys() == expected.keys()
    for name, (sessions, seconds, dollars, errors, reconnects, failed) in expected.items():
        # Sums of floats in another order differ in the last bits; counts and money must not.
        assert shown[name] == (sessions, pytest.approx(seconds), dollars, errors, reconnects, failed), name


def assert_dashboard_equals_sessions() -> None:
    today = timezone.now().date()
    month = dashboard.UsageFilter(first_day=today - timedelta(days=29), last_day=today)
    assert_same({None: figures(dashboard.usage_totals(month))}, by_sessions(lambda row: None))
    per_day = {row["day"]: figures(row) for row in dashboard.usage_per_day(month) if row["sessions"]}
    assert_same(per_day, by_sessions(lambda row: row.started_at.date()))
    owners = {row["owner_id"]: figures(row) for row in dashboard.top_owners(month)}
    assert_same(owners, by_sessions(lambda row: row.owner_id))
    rooms = {row["room_public_id"]: figures(row) for row in dashboard.top_rooms(month)}
    assert_same(rooms, by_sessions(lambda row: row.room_public_id))
    pairs = {
        (row["source_language"], row["language"]): figures(row) for row in dashboard.language_pairs(month)
    }
    assert_same(pairs, by_sessions(lambda row: (row.source_language, row.language)))


@pytest.fixture
def history(room: Room, member: AbstractUser, outsider: AbstractUser) -> dict[str, Any]:
    """Two owners' sessions over the past week and today, some failing; all rolled up an hour ago."""
    mateo = room.memberships.get(user=member)
    olivia = room.memberships.get(user=room.owner)
    other, _ = services.room_create(owner=outsider, name="Otto's office")
    otto = other.memberships.get(user=outsider)
    # Each day's sessions start just after its midnight (UTC), so today has some at any hour.
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    for days_ago in (6, 3, 1, 0):
        started = midnight - days_ago * DAY + 1
        record(
            make_report(room, mateo, language="en", seconds_sent=90 + days_ago, errors=1, started_at=started)
        )
        record(make_report(room, olivia, language="es", seconds_sent=45.5, reconnects=2, started_at=started))
        record(make_report(other, otto, language="de", seconds_sent=300 + days_ago, started_at=started))
    # Sixty days ago: outside the dashboard's 30 days, rolled up all the same.
    record(make_report(room, mateo, seconds_sent=600, started_at=midnight - 60 * DAY))
    late = make_report(room, mateo, language="en", seconds_sent=100, started_at=midnight - DAY + 2)
    record(late)
    an_hour_passes()
    tasks.rollup_daily_usage.apply().get()
    return {"late": late, "other": other, "otto": otto}


def test_it_reads_past_days_from_the_rollup(history: dict[str, Any]) -> None:
    today = timezone.now().date()
    rolled_up = dashboard.current_rollup_days(first_day=today - timedelta(days=29), last_day=today)
    # Today is always summed from its sessions.
    assert rolled_up == {today - timedelta(days=n) for n in (6, 3, 1)}
    assert_dashboard_equals_sessions()


def test_it_counts_todays_reports_that_came_after_the_rollup(room: Room, history: dict[str, Any]) -> None:
    record(make_report(room, seconds_sent=240, errors=3, language="fr"))
    assert_dashboard_equals_sessions()


def test_it_counts_a_late_report_for_yesterday_at_once(room: Room, history: dict[str, Any]) -> None:
    today = timezone.now().date()
    yesterday = today - timedelta(days=1)
    # The running totals of a session from yesterday grow, and another's first report arrives.
    record({**history["late"], "seconds_sent": 700.0, "reconnects": 1, "final": True})
    other, otto = history["other"], history["otto"]
    record(
        make_report(other, otto, language="it", seconds_sent=30, started_at=timezone.now().timestamp() - DAY)
    )
    assert yesterday not in dashboard.current_rollup_days(first_day=yesterday, last_day=today)
    assert_dashboard_equals_sessions()

    # The next roll-up takes the day back; the figures stay the same.
    an_hour_passes()
    tasks.rollup_daily_usage.apply().get()
    assert yesterday in dashboard.current_rollup_days(first_day=yesterday, last_day=today)
    assert_dashboard_equals_sessions()


def test_it_rolls_up_days_that_were_never_rolled_up(room: Room, history: dict[str, Any]) -> None:
    long_ago = timezone.now() - timedelta(days=20)
    record(make_report(room, seconds_sent=120, started_at=long_ago.timestamp()))
    day = long_ago.date()
    assert day not in dashboard.current_rollup_days(first_day=day, last_day=day)
    assert_dashboard_equals_sessions()
    an_hour_passes()
    tasks.rollup_daily_usage.apply().get()
    assert dashboard.current_rollup_days(first_day=day, last_day=day) == {day}
    assert DailyUsage.objects.get(day=day).minutes == 2.0
    assert_dashboard_equals_sessions()


def test_it_keeps_filtered_figures_on_the_sessions(room: Room, history: dict[str, Any]) -> None:
    today = timezone.now().date()
    for_room = dashboard.UsageFilter(first_day=today - timedelta(days=29), last_day=today, room=room)
    seconds = sum(
        TranslationUsage.objects.filter(room=room)
        .exclude(day__lt=for_room.first_day)
        .values_list("seconds_sent", flat=True)
    )
    assert dashboard.usage_totals(for_room)["seconds"] == pytest.approx(seconds)


def test_it_says_how_current_the_figures_are(
    history: dict[str, Any], staff: AbstractUser, client_for: Callable[..., Client]
) -> None:
    body = client_for(staff).get("/admin/rooms/usagedashboard/").content.decode()
    assert "Past days come from the daily roll-up" in body


def test_it_stores_the_utc_day_a_session_started(room: Room) -> None:
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    record(make_report(room, started_at=midnight.timestamp() - 0.5))
    record(make_report(room, started_at=midnight.timestamp()))
    days = sorted(TranslationUsage.objects.values_list("day", flat=True))
    assert days == [midnight.date() - timedelta(days=1), midnight.date()]
    assert all(isinstance(day, date) for day in days)
