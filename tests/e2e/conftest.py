"""Fixtures that run the real service processes for end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from media_workers.stack import Stack
from rooms import services
from rooms.models import Room

PASSWORD = "a-long-test-password-1"


def database_url() -> str:
    """The test database as a URL the subprocesses can open (after pytest-django created it)."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{host}/{db['NAME']}"


@pytest.fixture(scope="module")
def stack(django_db_setup: None) -> Iterator[Stack]:
    running = Stack(database_url=database_url(), fake_mode="tone").start()
    try:
        yield running
    finally:
        running.stop()


@dataclass
class Person:
    email: str
    name: str
    language: str


def make_user(person: Person) -> object:
    user = get_user_model().objects.create_user(username=person.email, email=person.email, password=PASSWORD)
    services.profile_update(
        profile=user.profile,
        display_name=person.name,
        hear_language=person.language,
        speak_language=person.language,
    )
    return user


def make_room(owner: Person, *members: Person) -> Room:
    """A room owned by `owner` that `members` joined through its invite."""
    room, issued = services.room_create(owner=make_user(owner), name="Kitchen table")
    for member in members:
        services.invite_accept(token=issued.token, user=make_user(member))
    return room
