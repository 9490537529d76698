"""The staff usage dashboard in the admin: figures, filters, live numbers and the CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import AbstractUser
from django.test import Client
from django.utils import timezone

from media_workers.shared.registry import Registry
from rooms import services
from rooms.models import CallParticipation, Room
from tests.support.standin import announce_worker, retire_worker
from tests.support.usage import make_report, record

URL = "/admin/rooms/usagedashboard/"


@pytest.fixture
def usage(room: Room, owner: AbstractUser, member: AbstractUser, outsider: AbstractUser) -> Room:
    """Olivia's room: 3 minutes today (Spanish into English, one error); Otto's room: 1 minute yesterday."""
    mateo = room.memberships.get(user=member)
    now = timezone.now().timestamp()
    record(make_report(room, mateo, language="en", seconds_sent=120, errors=1, started_at=now - 60))
    record(make_report(room, mateo, language="en", seconds_sent=60, reconnects=2, started_at=now - 30))
    other, _ = services.room_create(owner=outsider, name="=HYPERLINK(evil)")
    record(make_report(other, other.memberships.get(user=outsider), seconds_sent=60, started_at=now - 86400))
    CallParticipation.objects.create(
        room=room, user=member, left_at=timezone.now(), seconds=300.0, joined_at=timezone.now()
    )
    return other


def test_it_is_linked_from_the_admin_index(staff: AbstractUser, client_for: Callable[..., Client]) -> None:
    assert URL in client_for(staff).get("/admin/").content.decode()


@pytest.mark.parametrize("who", ["owner", "member"])
def test_it_refuses_people_who_are_not_staff(
    who: str, request: pytest.FixtureRequest, client_for: Callable[..., Client]
) -> None:
    client = client_for(request.getfixturevalue(who))
    for url in (URL, URL + "export.csv"):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_it_shows_minutes_cost_failures_and_the_leaders(
    usage: Room, staff: AbstractUser, client_for: Callable[..., Client]
) -> None:
    body = client_for(staff).get(URL).content.decode()
    assert "<dt>Translated minutes</dt><dd>4.0</dd>" in body
    assert "<dt>Estimated cost</dt><dd>$0.14</dd>" in body
    assert "<dt>Errors</dt><dd>1</dd>" in body
    assert "<dt>Reconnects</dt><dd>2</dd>" in body
    assert "<dt>Sessions with failures</dt><dd>2</dd>" in body
    assert "<dt>Minutes in calls</dt><dd>5.0</dd>" in body
    # Top owners: Olivia (3 minutes) before Otto (1 minute).
    assert body.index("olivia@example.com") < body.index("otto@example.com")
    assert "<td>es</td><td>en</td><td>3.0</td><td>2</td>" in body
    # The chart: one bar per day of the default 30, drawn on the server.
    assert body.count('class="usage-chart-bar"') == 60
    assert "<script" not in body.split('id="content-main"')[1]


def test_it_filters_by_owner_room_and_dates(
    usage: Room, room: Room, staff: AbstractUser, client_for: Callable[..., Client]
) -> None:
    client = client_for(staff)
    body = client.get(URL, {"owner": "otto@example.com"}).content.decode()
    assert "<dt>Translated minutes</dt><dd>1.0</dd>" in body
    body = client.get(URL, {"room": room.public_id}).content.decode()
    assert "<dt>Translated minutes</dt><dd>3.0</dd>" in body
    today = timezone.now().date()
    body = client.get(URL, {"first_day": today, "last_day": today}).content.decode()
    assert "<dt>Translated minutes</dt><dd>3.0</dd>" in body
    assert body.count('class="usage-chart-bar"') == 2


def test_it_explains_a_bad_filter(staff: AbstractUser, client_for: Callable[..., Client]) -> None:
    today = timezone.now().date()
    client = client_for(staff)
    body = client.get(URL, {"owner": "nobody@example.com"}).content.decode()
    assert "Nobody has that email address." in body
    body = client.get(URL, {"first_day": today, "last_day": today - timedelta(days=1)}).content.decode()
    assert "The range must start before it ends." in body


def test_it_exports_the_filtered_sessions_as_csv(
    usage: Room, room: Room, staff: AbstractUser, client_for: Callable[..., Client]
) -> None:
    response = client_for(staff).get(URL + "export.csv")
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 3
    # A random id may start with "-", which a spreadsheet would read as a formula: it is guarded too.
    expected = {"'" + pid if pid[0] == "-" else pid for pid in (room.public_id, usage.public_id)}
    assert {row["room_public_id"] for row in rows} == expected
    # A formula in a room name stays text in a spreadsheet.
    assert "'=HYPERLINK(evil)" in {row["room__name"] for row in rows}
    response = client_for(staff).get(URL + "export.csv", {"room": room.public_id})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert sorted(float(row["seconds_sent"]) for row in rows) == [60.0, 120.0]


@pytest.fixture
def live_worker(db: None) -> Iterator[None]:
    async def start() -> None:
        await announce_worker(
            "dash-worker",
            channel="mediaworker.x",
            host="media-1.example",
            capacity=20,
            participants=3,
            sessions=4,
        )
        registry = Registry()
        await registry.claim_room("some-room")
        await registry.close()

    async_to_sync(start)()
    yield
    async_to_sync(retire_worker)("dash-worker")


def test_it_shows_live_calls_and_media_workers(
    live_worker: None, staff: AbstractUser, client_for: Callable[..., Client]
) -> None:
    body = client_for(staff).get(URL).content.decode()
    assert "<dt>Active calls</dt><dd>1</dd>" in body
    assert "<dt>Participants</dt><dd>3</dd>" in body
    assert "<dt>Translation sessions</dt><dd>4</dd>" in body
    assert "<td>dash-worker</td><td>media-1.example</td><td>1 / 20</td>" in body
