"""The people in the room tests: an owner, an invited member, a guest, an outsider and staff."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.contrib.sessions.backends.base import SessionBase
from django.test import Client

from media_workers.registry import Registry
from rooms import services
from rooms.models import Room
from rooms.routing import websocket_urlpatterns

PASSWORD = "correct horse battery staple"


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


def make_user(email: str, display_name: str, hear_language: str = "en", **extra: object) -> AbstractUser:
    user = get_user_model().objects.create_user(username=email, email=email, password=PASSWORD, **extra)
    services.profile_update(
        profile=user.profile,
        display_name=display_name,
        hear_language=hear_language,
        speak_language=hear_language,
        # Pages in English, whatever they hear: these tests read English (test_page_language.py
        # and test_catalogs.py read the others).
        page_language="en",
    )
    return user


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


def logged_in_session(user: AbstractUser) -> SessionBase:
    """A real Django session logging `user` in, as a browser's cookie carries it to the websocket."""
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client.session


def room_socket(
    public_id: str, user: AbstractUser | AnonymousUser, *, origin: str | None = "http://testserver"
) -> WebsocketCommunicator:
    """A room page's websocket for `user`, with the session their login made (if any)."""
    headers = [(b"host", b"testserver")]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/rooms/{public_id}/", headers)
    comm.scope["user"] = user
    if user.is_authenticated:
        comm.scope["session"] = logged_in_session(user)
    return comm


@pytest.fixture
def client_for() -> Callable[[AbstractUser], Client]:
    """A browser of its own for each person, already logged in."""

    def make(user: AbstractUser) -> Client:
        client = Client()
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return make


async def announce_worker(
    worker_id: str,
    *,
    channel: str,
    host: str = "h",
    capacity: int = 5,
    participants: int = 0,
    sessions: int = 0,
    ttl: float = 30,
) -> None:
    """Register a stand-in media worker (a test listening on `channel`) as live in Redis."""
    registry = Registry()
    await registry.heartbeat(
        worker_id=worker_id,
        host=host,
        pid=1,
        channel=channel,
        capacity=capacity,
        participants=participants,
        sessions=sessions,
        draining=False,
        ttl=ttl,
    )
    await registry.close()


async def retire_worker(worker_id: str) -> None:
    """Remove a stand-in media worker and free its rooms."""
    registry = Registry()
    await registry.unregister(worker_id)
    await registry.close()
