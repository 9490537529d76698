"""People and their ways in: users with profiles, a logged-in session, a room page's websocket."""

from __future__ import annotations

from dataclasses import dataclass

from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.contrib.sessions.backends.base import SessionBase
from django.test import Client

from rooms import services
from rooms.routing import websocket_urlpatterns

PASSWORD = "correct horse battery staple"


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


@dataclass
class Person:
    email: str
    name: str
    language: str


def user_for(person: Person) -> AbstractUser:
    """`person` as a user who can log in with PASSWORD."""
    user = get_user_model().objects.create_user(username=person.email, email=person.email, password=PASSWORD)
    services.profile_update(
        profile=user.profile,
        display_name=person.name,
        hear_language=person.language,
        speak_language=person.language,
        # Pages in English, whatever they hear: these tests read the pages' English labels
        # (tests/browser/test_languages.py reads them in the others).
        page_language="en",
    )
    return user
