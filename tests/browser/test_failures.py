"""What the room page tells people when the call can't work: microphone, browser and server problems.

The microphone cases use Chromium's own refusal or a getUserMedia that fails the way a phone's
does; the server's close codes and retries (docs/signalling.md) come from a stand-in socket,
since the real server sends them only in situations a test can't cheaply stage.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, WebSocketRoute, expect

from media_workers.devtools.stack import Stack

from .conftest import Launch, hello, new_page, open_room

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SOCKET = re.compile(r"/ws/rooms/")


def test_it_says_the_microphone_was_denied(stack: Stack, room_url: str, chromium: Launch) -> None:
    page = new_page(chromium(grant=False))
    open_room(page, stack, room_url)
    page.get_by_role("button", name="Join call").click()
    expect(page.get_by_role("alert")).to_contain_text("Microphone access was denied")
    expect(page.get_by_role("button", name="Join call")).to_be_enabled()


@pytest.mark.parametrize(
    ("error", "message"),
    [
        ("NotFoundError", "No microphone was found"),
        ("NotReadableError", "Your microphone is busy or blocked by the system"),
    ],
)
def test_it_says_why_the_microphone_would_not_start(
    stack: Stack, room_url: str, chromium: Launch, error: str, message: str
) -> None:
    page = new_page(chromium())
    page.add_init_script(
        f"navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('', '{error}'));"
    )
    open_room(page, stack, room_url)
    page.get_by_role("button", name="Join call").click()
    expect(page.get_by_role("alert")).to_contain_text(message)


def test_it_explains_https_when_the_page_may_not_use_a_microphone(
    stack: Stack, room_url: str, chromium: Launch
) -> None:
    page = new_page(chromium())
    # What a plain-http page opened from a phone looks like: not a secure context, and no
    # navigator.mediaDevices at all.
    page.add_init_script(
        "Object.defineProperty(window, 'isSecureContext', {get: () => false});"
        "Object.defineProperty(Navigator.prototype, 'mediaDevices', {get: () => undefined});"
    )
    open_room(page, stack, room_url)
    expect(page.get_by_role("alert")).to_contain_text("not opened over HTTPS")
    expect(page.get_by_role("button", name="Join call")).to_be_disabled()


@pytest.mark.parametrize(
    ("code", "reason", "message"),
    [
        (4410, "room_closed", "This room has been closed by its owner"),
        (4403, "forbidden", "you are not a member of this room"),
        (4401, "unauthenticated", "You are no longer signed in"),
    ],
)
def test_it_explains_a_refused_call_and_does_not_retry(
    stack: Stack, room_url: str, chromium: Launch, code: int, reason: str, message: str
) -> None:
    page = new_page(chromium())
    connections: list[WebSocketRoute] = []

    def refuse(ws: WebSocketRoute) -> None:
        connections.append(ws)
        ws.send(json.dumps({"type": "error", "code": reason, "message": "Refused.", "fatal": True}))
        ws.close(code=code, reason=reason)

    page.route_web_socket(SOCKET, refuse)
    open_room(page, stack, room_url)
    expect(page.get_by_role("alert")).to_contain_text(message)
    expect(page.get_by_role("button", name="Join call")).to_be_disabled()
    expect(page.locator("[data-call-state]")).to_have_text("Not in the call")
    assert len(connections) == 1


def test_it_retries_while_the_service_is_busy_and_says_so(
    stack: Stack, room_url: str, chromium: Launch
) -> None:
    page = new_page(chromium())
    offers: list[str] = []

    def busy_server(ws: WebSocketRoute) -> None:
        def on_message(raw: str | bytes) -> None:
            if json.loads(raw)["type"] == "offer":
                offers.append("offer")
                ws.send(json.dumps({"type": "error", "code": "busy", "message": "Busy.", "about": "offer"}))

        ws.on_message(on_message)
        ws.send(json.dumps(hello()))

    page.route_web_socket(SOCKET, busy_server)
    open_room(page, stack, room_url)
    page.get_by_role("button", name="Join call").click()
    expect(page.locator("[data-call-state]")).to_contain_text("The service is busy")
    assert until(page, lambda: len(offers) >= 2), "the page did not offer again"


def test_it_says_the_call_is_full_and_does_not_retry_by_itself(
    stack: Stack, room_url: str, chromium: Launch
) -> None:
    page = new_page(chromium())
    offers: list[str] = []
    full = "This call is full: at most 8 people can be in it."

    def full_server(ws: WebSocketRoute) -> None:
        def on_message(raw: str | bytes) -> None:
            if json.loads(raw)["type"] == "offer":
                offers.append("offer")
                ws.send(json.dumps({"type": "error", "code": "call_full", "message": full, "about": "offer"}))

        ws.on_message(on_message)
        ws.send(json.dumps(hello()))

    page.route_web_socket(SOCKET, full_server)
    open_room(page, stack, room_url)
    page.get_by_role("button", name="Join call").click()
    expect(page.get_by_role("alert")).to_have_text(full)
    expect(page.locator("[data-call-state]")).to_have_text("Not in the call")
    expect(page.get_by_role("button", name="Join call")).to_be_enabled()
    page.wait_for_timeout(3000)
    assert offers == ["offer"]


def test_it_says_when_translation_is_reconnecting_or_off(
    stack: Stack, room_url: str, chromium: Launch
) -> None:
    page = new_page(chromium())
    sockets: list[WebSocketRoute] = []

    def server(ws: WebSocketRoute) -> None:
        sockets.append(ws)
        ws.send(json.dumps(hello()))

    page.route_web_socket(SOCKET, server)
    open_room(page, stack, room_url)
    page.get_by_role("button", name="Join call").click()
    note = page.locator("[data-call-translation]")
    status = {"type": "translation", "speaker": "2", "language": "en", "detail": ""}
    sockets[-1].send(json.dumps({**status, "status": "reconnecting"}))
    expect(note).to_have_text("Translation reconnecting…")
    sockets[-1].send(json.dumps({**status, "status": "live"}))
    expect(note).to_be_hidden()
    # The whole room's translation switched off (speaker null) says why, in the server's words.
    off = "Translation is off: this room's owner has used this month's 60 translation minutes."
    sockets[-1].send(json.dumps({**status, "speaker": None, "status": "off", "detail": off}))
    expect(note).to_have_text(off)
    # One translation waiting for a place under a limit says so, in the server's words too.
    limited = "This call runs at most 16 translations at once: this one starts when a place is free."
    sockets[-1].send(json.dumps({**status, "speaker": None, "status": "live"}))
    sockets[-1].send(json.dumps({**status, "status": "limited", "detail": limited}))
    expect(note).to_have_text(limited)


def test_it_reconnects_by_itself_when_the_server_connection_drops(
    stack: Stack, room_url: str, chromium: Launch
) -> None:
    page = new_page(chromium())
    sockets: list[WebSocketRoute] = []
    offers: list[str] = []

    def server(ws: WebSocketRoute) -> None:
        def on_message(raw: str | bytes) -> None:
            if json.loads(raw)["type"] == "offer":
                offers.append("offer")

        sockets.append(ws)
        ws.on_message(on_message)
        ws.send(json.dumps(hello()))

    page.route_web_socket(SOCKET, server)
    open_room(page, stack, room_url)
    page.get_by_role("button", name="Join call").click()
    assert until(page, lambda: len(offers) == 1)
    sockets[-1].close(code=1011, reason="server restart")
    expect(page.locator("[data-call-state]")).to_contain_text("Lost the connection to the server")
    # The new socket's hello brings a new offer: the call resumes without a tap.
    assert until(page, lambda: len(sockets) == 2 and len(offers) == 2)


def until(page: Page, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Waits (letting the page and its routes run) until `predicate` holds or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    return predicate()
