"""Usage reports through a real Celery worker process and the Redis broker, as media workers send them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from django.db import close_old_connections

from media_workers.devtools.stack import Stack
from media_workers.runtime.usage import send_to_celery
from rooms.models import Room, TranslationUsage
from tests.support.stack import database_url
from tests.support.usage import make_report

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def celery_worker(django_db_setup: None) -> Iterator[Stack]:
    stack = Stack(database_url=database_url())
    stack.start_celery()
    try:
        yield stack
    finally:
        stack.stop()


def wait_for(check: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        close_old_connections()
        if check():
            return True
        time.sleep(0.1)
    return False


def test_it_records_a_report_sent_to_the_broker(celery_worker: Stack, room: Room) -> None:
    send_to_celery(make_report(room, seconds_sent=12.5, errors=1))
    assert wait_for(lambda: TranslationUsage.objects.filter(seconds_sent=12.5).exists()), celery_worker.logs(
        "celery"
    )
    usage = TranslationUsage.objects.get()
    assert (usage.owner_id, usage.room_id, usage.errors) == (room.owner_id, room.pk, 1)


def test_it_counts_a_repeated_report_once_and_ignores_a_late_one(celery_worker: Stack, room: Room) -> None:
    report = make_report(room)
    # In order of sending: 20 s, the same again, 40 s (final), then a late 30 s that must not win.
    for seconds, final in ((20.0, False), (20.0, False), (40.0, True), (30.0, False)):
        send_to_celery({**report, "seconds_sent": seconds, "final": final})
    marker = make_report(room, seconds_sent=1.0)
    send_to_celery(marker)
    # One worker process works the queue in order: once the marker is in, so are the others.
    assert wait_for(lambda: TranslationUsage.objects.filter(session_id=marker["session_id"]).exists())
    usage = TranslationUsage.objects.get(session_id=report["session_id"])
    assert (usage.seconds_sent, usage.final) == (40.0, True)
    assert TranslationUsage.objects.count() == 2
