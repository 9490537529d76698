"""Fuzz the signalling websocket: whatever a client sends, it gets documented answers and the
connection goes on (malformed JSON, wrong types, huge messages, unknown types, SDP garbage)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.base import SessionBase
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rooms import services
from rooms.models import Room
from rooms.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)

# Every code docs/signalling.md lists for a refused message.
DOCUMENTED_CODES = {
    "bad_json",
    "bad_message",
    "unknown_type",
    "too_large",
    "bad_sdp",
    "bad_candidate",
    "bad_value",
    "bad_language",
    "not_in_call",
    "rate_limited",
    "busy",
    "bad_offer",
}
REPLY_TYPES = {"error", "pong", "settings", "ice_servers"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
known_types = st.sampled_from(
    [
        "offer",
        "candidate",
        "mute",
        "presence",
        "settings",
        "leave",
        "ping",
        "renew_ice_servers",
        "answer",
        "",
        "OFFER",
    ]
)
typed_messages = st.builds(
    lambda kind, fields: json.dumps({**fields, "type": kind}),
    known_types | st.text(max_size=20),
    st.dictionaries(
        st.sampled_from(
            [
                "sdp",
                "candidate",
                "muted",
                "background",
                "hear_language",
                "original_volume",
                "translation_volume",
            ]
        ),
        json_values,
        max_size=3,
    ),
)
sdp_garbage = st.builds(
    lambda body: json.dumps({"type": "offer", "sdp": "v=0\r\n" + body + "\r\nm=audio 9 RTP/AVP 0\r\n"}),
    st.text(max_size=300),
)
huge = st.integers(min_value=65 * 1024, max_value=200 * 1024).map(
    lambda n: json.dumps({"type": "ping", "x": "a" * n})
)
# Empty frames are left out only because the test communicator cannot send one.
messages = st.one_of(
    st.text(min_size=1, max_size=200), json_values.map(json.dumps), typed_messages, sdp_garbage, huge
)


def make_member() -> tuple[Room, Any, SessionBase]:
    """The room's owner, logged in: the socket re-checks their session before changing anything."""
    users = get_user_model().objects
    owner = users.create_user(username="fuzz-owner@example.com", email="fuzz-owner@example.com", password="x")
    room, _ = services.room_create(owner=owner, name="Fuzz")
    browser = Client()
    browser.force_login(owner, backend="django.contrib.auth.backends.ModelBackend")
    return room, owner, browser.session


async def exchange(room: Room, user: Any, session: SessionBase, sent: list[str]) -> list[dict[str, Any]]:
    headers = [(b"host", b"testserver"), (b"origin", b"http://testserver")]
    comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/rooms/{room.public_id}/", headers)
    comm.scope["user"] = user
    comm.scope["session"] = session
    connected, _ = await comm.connect()
    assert connected
    assert json.loads(await comm.receive_from(timeout=5))["type"] == "hello"
    for text in sent:
        await comm.send_to(text_data=text)
    await comm.send_to(text_data='{"type": "ping"}')
    replies: list[dict[str, Any]] = []
    while not replies or replies[-1].get("type") != "pong":
        output = await comm.receive_output(timeout=5)
        # A close here would mean a message took the connection down.
        assert output["type"] == "websocket.send", output
        replies.append(json.loads(output["text"]))
    await comm.disconnect()
    return replies


@pytest.fixture
def member() -> tuple[Room, Any, SessionBase]:
    return make_member()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sent=st.lists(messages, max_size=25))
def test_it_answers_anything_with_documented_replies_and_stays_open(
    member: tuple[Room, Any, SessionBase], sent: list[str]
) -> None:
    room, user, session = member
    replies = async_to_sync(exchange)(room, user, session, sent)
    for reply in replies:
        assert reply["type"] in REPLY_TYPES, reply
        if reply["type"] == "error":
            assert reply["code"] in DOCUMENTED_CODES, reply
            assert reply["message"] and not reply.get("fatal"), reply
