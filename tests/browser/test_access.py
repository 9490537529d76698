"""What the room page does when access ends, and how it keeps TURN credentials fresh.

The server's side comes from a stand-in socket (as in test_failures): the real consumer's
messages are tested in rooms/tests/test_access_ends.py.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import WebSocketRoute, expect

from media_workers.devtools.stack import Stack
from rooms import services
from tests.support.people import Person, user_for

from .conftest import Launch, hello, new_page, open_room

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SOCKET = re.compile(r"/ws/rooms/")
TURN = {"urls": ["turn:127.0.0.1:9?transport=udp"], "username": "1:1", "credential": "c2VjcmV0"}


@pytest.mark.parametrize(
    ("code", "reason", "message"),
    [
        (4403, "removed", "The room's owner removed you from this room."),
        (4401, "session_ended", "You were logged out on this device. Log in again to rejoin."),
    ],
)
def test_it_says_why_access_ended_and_does_not_retry(
    stack: Stack,
    room_url: str,
    chromium: Launch,
    code: int,
    reason: str,
    message: str,
) -> None:
    page = new_page(chromium())
    connections: list[WebSocketRoute] = []

    def server(ws: WebSocketRoute) -> None:
        connections.append(ws)
        ws.send(json.dumps(hello()))

    page.route_web_socket(SOCKET, server)
    open_room(page, stack, room_url)
    expect(page.get_by_role("button", name="Join call")).to_be_enabled()
    connections[0].send(json.dumps({"type": "error", "code": reason, "message": message, "fatal": True}))
    connections[0].close(code=code, reason=reason)
    expect(page.get_by_role("alert")).to_contain_text(message)
    expect(page.get_by_role("button", name="Join call")).to_be_disabled()
    page.wait_for_timeout(1500)
    assert len(connections) == 1


def test_it_renews_turn_credentials_before_they_expire(
    stack: Stack,
    room_url: str,
    chromium: Launch,
) -> None:
    page = new_page(chromium())
    renewals: list[str] = []

    def server(ws: WebSocketRoute) -> None:
        def on_message(raw: str | bytes) -> None:
            if json.loads(raw)["type"] == "renew_ice_servers":
                renewals.append("renew")
                ws.send(json.dumps({"type": "ice_servers", "ice_servers": [TURN], "ice_servers_ttl": 1}))

        ws.on_message(on_message)
        ws.send(json.dumps({**hello(), "ice_servers": [TURN], "ice_servers_ttl": 1}))

    page.route_web_socket(SOCKET, server)
    open_room(page, stack, room_url)
    page.wait_for_timeout(4000)
    # One renewal per lifetime (at 80 % of it), each answered with new credentials: a few, not a flood.
    assert 3 <= len(renewals) <= 6, renewals


def test_it_asks_for_nothing_without_turn(
    stack: Stack,
    room_url: str,
    chromium: Launch,
) -> None:
    page = new_page(chromium())
    sent: list[str] = []

    def server(ws: WebSocketRoute) -> None:
        ws.on_message(lambda raw: sent.append(json.loads(raw)["type"]))
        ws.send(json.dumps({**hello(), "ice_servers": [], "ice_servers_ttl": 1}))

    page.route_web_socket(SOCKET, server)
    open_room(page, stack, room_url)
    expect(page.get_by_role("button", name="Join call")).to_be_enabled()
    page.wait_for_timeout(2000)
    assert "renew_ice_servers" not in sent


@pytest.fixture
def invite_link(stack: Stack) -> str:
    """An invite to a room of Bruno's, made before any browser starts (see conftest)."""
    owner = user_for(Person("bruno@example.com", "Bruno", "es"))
    _, issued = services.room_create(owner=owner, name="Bruno's kitchen")
    return f"{stack.base_url}/i/{issued.token}/"


def test_it_joins_a_signed_in_person_only_when_they_confirm(
    stack: Stack,
    room_url: str,
    invite_link: str,
    chromium: Launch,
) -> None:
    page = new_page(chromium())
    open_room(page, stack, room_url)
    page.goto(invite_link)
    expect(page.get_by_role("heading", name="Bruno's kitchen")).to_be_visible()
    expect(page.get_by_text("A room of Bruno")).to_be_visible()
    page.get_by_role("link", name="My rooms").click()
    expect(page.get_by_text("Bruno's kitchen")).not_to_be_visible()
    page.goto(invite_link)
    page.get_by_role("button", name="Join Bruno's kitchen").click()
    expect(page.get_by_role("heading", name="Bruno's kitchen")).to_be_visible()
    expect(page.locator("#call")).to_be_visible()
