"""Access that ends when it should: removal, log-out and password changes close live sockets.

Real channel layer and Redis; the media worker is a test listening on a channel of its own.
The attacker here is a removed member whose page stays open and keeps talking.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from channels import DEFAULT_CHANNEL_LAYER
from channels.db import database_sync_to_async
from channels.layers import BaseChannelLayer, channel_layers
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AbstractUser
from django.test import Client

from rooms import services
from rooms.models import Membership, Room
from rooms.routing import websocket_urlpatterns
from tests.support.people import PASSWORD, make_user
from tests.support.standin import announce_worker, retire_worker

pytestmark = pytest.mark.django_db(transaction=True)

SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"


class Browser:
    """One person's browser: a logged-in HTTP client and the room page's socket on its session."""

    def __init__(self, user: AbstractUser, room: Room) -> None:
        self.http = Client()
        self.http.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        headers = [(b"host", b"testserver"), (b"origin", b"http://testserver")]
        self.socket = WebsocketCommunicator(
            URLRouter(websocket_urlpatterns), f"/ws/rooms/{room.public_id}/", headers
        )
        self.socket.scope["user"] = user
        self.socket.scope["session"] = self.http.session

    async def receive(self) -> dict[str, Any]:
        return json.loads(await self.socket.receive_from(timeout=5))  # type: ignore[no-any-return]

    async def open(self) -> dict[str, Any]:
        connected, _ = await self.socket.connect()
        assert connected
        return await self.receive()

    async def send(self, message: dict[str, Any]) -> None:
        await self.socket.send_to(text_data=json.dumps(message))

    async def closed_with(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The fatal error the page shows, then the close frame."""
        error = await self.receive()
        while error["type"] != "error":
            error = await self.receive()
        return error, await self.socket.receive_output(timeout=5)


def setup_room() -> tuple[Room, AbstractUser, AbstractUser, Membership]:
    owner = make_user("olivia@example.com", "Olivia")
    room, issued = services.room_create(owner=owner, name="Kitchen table")
    member = make_user("mateo@example.com", "Mateo", "es")
    membership = services.invite_accept(token=issued.token, user=member)
    return room, owner, member, membership


@pytest.fixture
async def worker() -> AsyncIterator[tuple[BaseChannelLayer, str]]:
    layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    channel = await layer.new_channel(prefix="mediaworker")
    await announce_worker("access-worker", channel=channel, ttl=30)
    yield layer, channel
    await retire_worker("access-worker")


async def in_call(browser: Browser, worker: tuple[BaseChannelLayer, str]) -> None:
    layer, channel = worker
    await browser.open()
    await browser.send({"type": "offer", "sdp": SDP})
    assert (await layer.receive(channel))["type"] == "participant.join"


async def drain(worker: tuple[BaseChannelLayer, str], participant_id: str) -> list[dict[str, Any]]:
    """What the worker was told about this participant, until it hears nothing for a while."""
    layer, channel = worker
    messages = []
    while True:
        try:
            messages.append(await asyncio.wait_for(layer.receive(channel), timeout=1.5))
        except TimeoutError:
            return [m for m in messages if m.get("participant_id") == participant_id]


async def test_it_closes_a_removed_members_open_socket_and_drops_their_peer(worker: Any) -> None:
    room, owner, member, membership = await database_sync_to_async(setup_room)()
    mateo = await database_sync_to_async(Browser)(member, room)
    olivia = await database_sync_to_async(Browser)(owner, room)
    try:
        await in_call(mateo, worker)
        await olivia.open()
        response = await database_sync_to_async(olivia.http.post)(
            f"/r/{room.public_id}/members/{membership.pk}/remove/"
        )
        assert response.status_code == 302
        error, closed = await mateo.closed_with()
        assert error["code"] == "removed" and error["fatal"] is True
        assert error["message"] == "The room's owner removed you from this room."
        assert closed == {"type": "websocket.close", "code": 4403, "reason": "removed"}
        told = await drain(worker, str(membership.pk))
        assert told and {m["type"] for m in told} == {"participant.leave"}
        # The owner's own page stays open.
        await olivia.send({"type": "ping"})
        assert await olivia.receive() == {"type": "pong"}
    finally:
        await mateo.socket.disconnect()
        await olivia.socket.disconnect()


async def test_it_rechecks_membership_before_every_message_that_changes_anything(worker: Any) -> None:
    room, _, member, membership = await database_sync_to_async(setup_room)()
    mateo = await database_sync_to_async(Browser)(member, room)
    try:
        await in_call(mateo, worker)
        # Gone from the database with no broadcast at all (another process, a lost message).
        await database_sync_to_async(Membership.objects.filter(pk=membership.pk).delete)()
        await mateo.send({"type": "mute", "muted": True})
        error, closed = await mateo.closed_with()
        assert error["code"] == "removed"
        assert closed["code"] == 4403
        told = await drain(worker, str(membership.pk))
        # The mute never reached the worker; the leave did.
        assert [m["type"] for m in told] == ["participant.leave"]
    finally:
        await mateo.socket.disconnect()


async def test_it_closes_the_socket_of_a_session_that_logged_out(worker: Any) -> None:
    room, _, member, _ = await database_sync_to_async(setup_room)()
    mateo = await database_sync_to_async(Browser)(member, room)
    try:
        await in_call(mateo, worker)
        await database_sync_to_async(mateo.http.post)("/accounts/logout/")
        error, closed = await mateo.closed_with()
        assert error["code"] == "session_ended"
        assert closed == {"type": "websocket.close", "code": 4401, "reason": "session_ended"}
    finally:
        await mateo.socket.disconnect()


async def test_it_ends_other_sessions_when_the_password_changes(worker: Any) -> None:
    room, _, member, _ = await database_sync_to_async(setup_room)()
    mateo = await database_sync_to_async(Browser)(member, room)
    elsewhere = Client()
    await database_sync_to_async(elsewhere.force_login)(member, "django.contrib.auth.backends.ModelBackend")
    try:
        await in_call(mateo, worker)
        new_password = "another long passphrase 2"
        response = await database_sync_to_async(elsewhere.post)(
            "/accounts/password/change/",
            {"oldpassword": PASSWORD, "password1": new_password, "password2": new_password},
        )
        assert response.status_code == 302
        error, closed = await mateo.closed_with()
        assert error["code"] == "session_ended"
        assert closed["code"] == 4401
    finally:
        await mateo.socket.disconnect()


async def test_it_renews_turn_credentials_only_for_someone_still_let_in(settings: Any, worker: Any) -> None:
    settings.TURN_URLS = ["turn:127.0.0.1:3478?transport=udp"]
    settings.TURN_SECRET = "test-secret"
    settings.TURN_TTL_SECONDS = 3600
    room, _, member, membership = await database_sync_to_async(setup_room)()
    mateo = await database_sync_to_async(Browser)(member, room)
    try:
        hello = await mateo.open()
        assert hello["ice_servers_ttl"] == 3600
        assert hello["ice_servers"][0]["username"].endswith(f":{member.pk}")
        await mateo.send({"type": "renew_ice_servers"})
        renewed = await mateo.receive()
        assert renewed["type"] == "ice_servers" and renewed["ice_servers_ttl"] == 3600
        assert renewed["ice_servers"][0]["urls"] == ["turn:127.0.0.1:3478?transport=udp"]
        assert renewed["ice_servers"][0]["credential"]

        await database_sync_to_async(Membership.objects.filter(pk=membership.pk).delete)()
        await mateo.send({"type": "renew_ice_servers"})
        error, closed = await mateo.closed_with()
        assert error["code"] == "removed" and "ice_servers" not in error
        assert closed["code"] == 4403
    finally:
        await mateo.socket.disconnect()
