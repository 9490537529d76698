"""The people in the room tests (an owner, an invited member, a guest, an outsider and staff),
and a stand-in media worker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from asgiref.sync import async_to_sync
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers
from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.test import Client

from rooms import services
from rooms.models import Room
from tests.support.people import make_user
from tests.support.standin import announce_worker, retire_worker


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Forget allauth's rate-limit counters between tests.

    Only this run's cache keys go: `cache.clear()` would FLUSHDB the Redis that other
    processes share.
    """
    client = redis.Redis.from_url(settings.REDIS_URL)
    pattern = settings.CACHES["default"]["KEY_PREFIX"] + ":*"
    keys = list(client.scan_iter(match=pattern, count=1000))
    if keys:
        client.delete(*keys)
    client.close()
    yield


@pytest.fixture
def owner(db: None) -> AbstractUser:
    return make_user("olivia@example.com", "Olivia", "en")


@pytest.fixture
def room_and_token(owner: AbstractUser) -> tuple[Room, str]:
    room, issued = services.room_create(owner=owner, name="Kitchen table")
    return room, issued.token


@pytest.fixture
def room(room_and_token: tuple[Room, str]) -> Room:
    return room_and_token[0]


@pytest.fixture
def token(room_and_token: tuple[Room, str]) -> str:
    """The plain token of the room's first invite."""
    return room_and_token[1]


@pytest.fixture
def member(room: Room, token: str) -> AbstractUser:
    user = make_user("mateo@example.com", "Mateo", "es")
    services.invite_accept(token=token, user=user)
    return user


@pytest.fixture
def guest(room: Room, token: str) -> AbstractUser:
    greta = services.guest_join(token=token, display_name="Greta", language="de")
    services.profile_set_page_language(profile=greta.profile, page_language="en")
    return greta


@pytest.fixture
def outsider(db: None) -> AbstractUser:
    return make_user("otto@example.com", "Otto", "fr")


@pytest.fixture
def staff(db: None) -> AbstractUser:
    return make_user("sam@example.com", "Sam Staff", "en", is_staff=True, is_superuser=True)


@pytest.fixture
def client_for() -> Callable[[AbstractUser], Client]:
    """A browser of its own for each person, already logged in."""

    def make(user: AbstractUser) -> Client:
        client = Client()
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return make


@pytest.fixture
def worker(db: None) -> Iterator[tuple[Any, str, str]]:
    """A live stand-in media worker: (its channel layer, its channel, its id)."""
    layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    channel = async_to_sync(layer.new_channel)(prefix="mediaworker")

    async_to_sync(announce_worker)("task-worker", channel=channel)
    yield layer, channel, "task-worker"
    async_to_sync(retire_worker)("task-worker")
