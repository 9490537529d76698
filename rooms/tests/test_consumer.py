"""The signalling websocket: who may connect, what it accepts, and where offers go.

Real channel layer and registry (Redis); the "worker" here is a test that listens on a
channel of its own, exactly as a media worker does.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from channels import DEFAULT_CHANNEL_LAYER
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model

from media_workers.shared.registry import Registry
from rooms import services
from rooms.consumers import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from rooms.models import Membership, Room
from tests.support.people import room_socket
from tests.support.standin import announce_worker, retire_worker

pytestmark = pytest.mark.django_db(transaction=True)

People = tuple[Room, Any, Any, Any]

SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"


@database_sync_to_async
def make_room() -> People:
    users = get_user_model().objects
    owner = users.create_user(username="owner@example.com", email="owner@example.com", password="x")
    member = users.create_user(username="member@example.com", email="member@example.com", password="x")
    outsider = users.create_user(username="out@example.com", email="out@example.com", password="x")
    room, issued = services.room_create(owner=owner, name="Room")
    services.invite_accept(token=issued.token, user=member)
    return room, owner, member, outsider


async def communicator(
    room: Room, user: Any, origin: str | None = "http://testserver"
) -> WebsocketCommunicator:
    return await database_sync_to_async(room_socket)(room.public_id, user, origin=origin)  # type: ignore[no-any-return]


async def receive(comm: WebsocketCommunicator) -> dict[str, Any]:
    return json.loads(await comm.receive_from(timeout=5))  # type: ignore[no-any-return]


@pytest.fixture
async def people() -> People:
    return await make_room()


@pytest.fixture
async def member_socket(people: People) -> AsyncIterator[WebsocketCommunicator]:
    room, _, member, _ = people
    comm = await communicator(room, member)
    connected, _ = await comm.connect()
    assert connected
    hello = await receive(comm)
    assert hello["type"] == "hello"
    yield comm
    await comm.disconnect()


async def test_it_greets_a_member_with_their_languages_and_no_secrets(
    people: People,
) -> None:
    room, _, member, _ = people
    comm = await communicator(room, member)
    await comm.connect()
    hello = await receive(comm)
    assert hello["participant"]["name"] == "member"
    assert hello["participant"]["hear"] == "en"
    assert hello["room"] == {"id": room.public_id, "name": "Room"}
    assert hello["demo"] is True
    assert hello["ice_servers"] == []
    # Every listener language, and which of them are turn-based (the page marks those).
    assert hello["languages"]["tr"] == "Türkçe"
    assert "tr" in hello["turn_based"] and "es" not in hello["turn_based"]
    assert "OPENAI" not in json.dumps(hello).upper()
    await comm.disconnect()


@pytest.mark.parametrize(
    ("who", "origin", "code", "reason"),
    [
        ("anonymous", "http://testserver", CLOSE_UNAUTHENTICATED, "unauthenticated"),
        ("outsider", "http://testserver", CLOSE_FORBIDDEN, "forbidden"),
        ("member", "https://evil.example", CLOSE_FORBIDDEN, "forbidden_origin"),
        ("member", None, CLOSE_FORBIDDEN, "forbidden_origin"),
    ],
)
async def test_it_refuses_with_a_reason(
    people: People, who: str, origin: str | None, code: int, reason: str
) -> None:
    from django.contrib.auth.models import AnonymousUser

    room, _, member, outsider = people
    user = {"anonymous": AnonymousUser(), "outsider": outsider, "member": member}[who]
    comm = await communicator(room, user, origin)
    await comm.connect()
    error = await receive(comm)
    assert error["type"] == "error" and error["code"] == reason and error["fatal"] is True
    assert error["message"]
    closed = await comm.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": code, "reason": reason}
    await comm.disconnect()


async def test_it_refuses_a_closed_room(people: People) -> None:
    room, _, member, _ = people
    await database_sync_to_async(services.room_close)(room=room)
    comm = await communicator(room, member)
    await comm.connect()
    error = await receive(comm)
    assert error["code"] == "room_closed"
    await comm.disconnect()


async def test_it_ends_the_call_on_every_open_page_when_the_owner_deletes_the_room(people: People) -> None:
    room, _, member, _ = people
    comm = await communicator(room, member)
    await comm.connect()
    assert (await receive(comm))["type"] == "hello"
    await database_sync_to_async(services.room_delete)(room=room)
    error = await receive(comm)
    assert (error["code"], error["message"], error["fatal"]) == (
        "room_closed",
        "The owner deleted this room.",
        True,
    )
    closed = await comm.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 4410, "reason": "room_closed"}
    await comm.disconnect()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("not json", "bad_json"),
        ("[1, 2]", "bad_message"),
        ('{"type": 5}', "bad_message"),
        ('{"type": "launch_missiles"}', "unknown_type"),
        ('{"type": "offer"}', "bad_sdp"),
        ('{"type": "offer", "sdp": "hello"}', "bad_sdp"),
        ('{"type": "offer", "sdp": "v=0\\r\\nm=video 9"}', "bad_sdp"),
        ('{"type": "mute", "muted": "yes"}', "bad_value"),
        ('{"type": "presence", "background": "hidden"}', "bad_value"),
        ('{"type": "settings", "hear_language": "xx"}', "bad_language"),
        ('{"type": "settings", "original_volume": 7}', "bad_value"),
        ('{"type": "settings", "original_volume": NaN}', "bad_value"),
        ('{"type": "settings"}', "bad_value"),
        ('{"type": "candidate", "candidate": {"candidate": 5}}', "bad_candidate"),
        (
            '{"type": "candidate", "candidate": {"candidate": "candidate:1", "sdpMLineIndex": "0"}}',
            "bad_candidate",
        ),
        (
            '{"type": "candidate", "candidate": {"candidate": "candidate:1 1 udp", "sdpMid": "0"}}',
            "not_in_call",
        ),
    ],
)
async def test_it_answers_a_bad_message_with_an_error_and_carries_on(
    member_socket: WebsocketCommunicator, text: str, code: str
) -> None:
    await member_socket.send_to(text_data=text)
    error = await receive(member_socket)
    assert error["type"] == "error" and error["code"] == code and error["message"]
    await member_socket.send_to(text_data='{"type": "ping"}')
    assert await receive(member_socket) == {"type": "pong"}


async def test_it_refuses_oversized_messages_and_sdp(member_socket: WebsocketCommunicator) -> None:
    await member_socket.send_to(text_data=json.dumps({"type": "ping", "pad": "x" * 70_000}))
    assert (await receive(member_socket))["code"] == "too_large"
    await member_socket.send_to(text_data=json.dumps({"type": "offer", "sdp": SDP + "a=x\r\n" * 8000}))
    assert (await receive(member_socket))["code"] == "too_large"
    await member_socket.send_to(bytes_data=b"\x00\x01")
    assert (await receive(member_socket))["code"] == "bad_message"


async def test_it_rate_limits_a_flood_and_recovers(people: People, settings: Any) -> None:
    # A slow refill, so that even a slow machine sending the flood earns at most a token or two.
    settings.SIGNALLING_RATE_BURST = 10
    settings.SIGNALLING_RATE_PER_SECOND = 0.5
    room, _, member, _ = people
    comm = await communicator(room, member)
    await comm.connect()
    await receive(comm)
    for _ in range(50):
        await comm.send_to(text_data='{"type": "ping"}')
    replies = []
    while not await comm.receive_nothing(timeout=0.3):
        replies.append(await receive(comm))
    kinds = [r["type"] for r in replies]
    assert kinds[:11] == ["pong"] * 10 + ["error"]
    assert replies[10]["code"] == "rate_limited"
    # The excess is dropped silently (one error per flood, a refilled token or two at most).
    assert kinds.count("error") == 1 and kinds.count("pong") <= 13
    # Once the bucket refills the connection works again.
    await asyncio.sleep(2.1)
    await comm.send_to(text_data='{"type": "ping"}')
    assert await receive(comm) == {"type": "pong"}
    await comm.disconnect()


async def test_it_says_busy_when_no_media_worker_is_free(member_socket: WebsocketCommunicator) -> None:
    await member_socket.send_to(text_data=json.dumps({"type": "offer", "sdp": SDP}))
    error = await receive(member_socket)
    assert error["code"] == "busy" and "busy" in error["message"]


async def test_it_routes_an_offer_to_the_rooms_worker_and_relays_the_answer(
    people: People,
) -> None:
    room, _, member, _ = people
    # A layer of its own, as a media worker (another process) has.
    layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    worker_channel = await layer.new_channel(prefix="mediaworker")
    await announce_worker("test-worker", channel=worker_channel, ttl=10)
    comm = await communicator(room, member)
    await comm.connect()
    await receive(comm)
    try:
        await comm.send_to(text_data=json.dumps({"type": "offer", "sdp": SDP}))
        join = await layer.receive(worker_channel)
        membership = await database_sync_to_async(Membership.objects.get)(room=room, user=member)
        assert join["type"] == "participant.join"
        assert join["room_id"] == room.public_id
        assert join["sdp"] == SDP
        assert join["participant"]["id"] == str(membership.pk)
        assert join["participant"]["hear"] == "en"
        # Who pays for this call's translations, as of now: it travels with every session.
        assert join["payer_id"] == room.owner_id

        await layer.send(
            join["reply_channel"], {"type": "worker.answer", "sdp": "v=0 answer", "sdp_type": "answer"}
        )
        assert await receive(comm) == {"type": "answer", "sdp": "v=0 answer", "sdp_type": "answer"}

        await comm.send_to(text_data=json.dumps({"type": "settings", "hear_language": "ja"}))
        update = await layer.receive(worker_channel)
        assert update["type"] == "participant.update" and update["changes"] == {"hear": "ja"}
        assert (await receive(comm))["participant"]["hear"] == "ja"
        await database_sync_to_async(membership.refresh_from_db)()
        assert membership.hear_language == "ja"

        await comm.send_to(text_data=json.dumps({"type": "mute", "muted": True}))
        assert (await layer.receive(worker_channel))["changes"] == {"muted": True}

        await comm.send_to(text_data=json.dumps({"type": "presence", "background": True}))
        assert (await layer.receive(worker_channel))["changes"] == {"background": True}
    finally:
        await comm.disconnect()
        leave = await layer.receive(worker_channel)
        assert leave["type"] == "participant.leave"
        await retire_worker("test-worker")


@dataclass
class LateWorker:
    """A stand-in media worker whose last heartbeat gets old at once (0.2 s beats expected). It
    reads its channel in a task of its own, answers pings while `answering`, and queues the rest."""

    layer: Any
    channel: str
    id: str = "late-worker"
    answering: bool = True
    pings: int = 0
    inbox: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)

    async def run(self) -> None:
        while True:
            message = await self.layer.receive(self.channel)
            if message["type"] == "worker.ping":
                self.pings += 1
                if self.answering:
                    await self.layer.send(
                        message["reply_channel"], {"type": "worker.pong", "worker_id": self.id}
                    )
            elif message["type"] != "room.roster":
                await self.inbox.put(message)

    async def receives(self, kind: str) -> dict[str, Any]:
        message = await asyncio.wait_for(self.inbox.get(), 5)
        assert message["type"] == kind, message
        return message

    async def join(self, comm: WebsocketCommunicator) -> None:
        await comm.connect()
        await receive(comm)
        await comm.send_to(text_data=json.dumps({"type": "offer", "sdp": SDP}))
        await self.receives("participant.join")


@pytest.fixture
async def late_worker(settings: Any) -> AsyncIterator[LateWorker]:
    settings.MEDIA_WORKER_HEARTBEAT_SECONDS = 0.2
    settings.WORKER_WATCH_SECONDS = 0.1
    settings.WORKER_PING_TIMEOUT = 0.5
    layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    worker = LateWorker(layer=layer, channel=await layer.new_channel(prefix="mediaworker"))
    # Registered for a minute: only whether it answers a ping can tell that it is dead.
    await announce_worker(worker.id, channel=worker.channel, ttl=60)
    reader = asyncio.create_task(worker.run())
    yield worker
    reader.cancel()
    await retire_worker(worker.id)


async def room_worker_id(room: Room) -> str | None:
    registry = Registry()
    try:
        return await registry.room_worker_id(room.public_id)
    finally:
        await registry.close()


async def test_it_moves_the_whole_call_as_soon_as_a_late_worker_does_not_answer_a_ping(
    people: People, late_worker: LateWorker
) -> None:
    room, owner, member, _ = people
    first, second = await communicator(room, member), await communicator(room, owner)
    try:
        await late_worker.join(first)
        await late_worker.join(second)
        late_worker.answering = False
        for comm in (first, second):
            message = await receive(comm)
            assert message["type"] == "reconnect" and message["reason"] == "worker_lost", message
        assert late_worker.pings > 0
        assert await room_worker_id(room) is None
    finally:
        await first.disconnect()
        await second.disconnect()


async def test_it_keeps_the_call_on_a_late_worker_that_answers_its_ping(
    people: People, late_worker: LateWorker
) -> None:
    room, _, member, _ = people
    comm = await communicator(room, member)
    try:
        await late_worker.join(comm)
        for _ in range(50):
            if late_worker.pings >= 3:
                break
            assert await comm.receive_nothing(timeout=0.2)
        assert late_worker.pings >= 3
        assert await comm.receive_nothing(timeout=0.5)
        assert await room_worker_id(room) == late_worker.id
    finally:
        await comm.disconnect()


async def test_it_leaves_a_draining_worker_to_move_its_calls_itself(
    people: People, late_worker: LateWorker
) -> None:
    room, _, member, _ = people
    comm = await communicator(room, member)
    try:
        await late_worker.join(comm)
        # SIGTERM: the worker says it is draining and is busy moving its calls (worker.moving);
        # a late heartbeat and an unanswered ping then say nothing about its death.
        await announce_worker(late_worker.id, channel=late_worker.channel, draining=True, ttl=60)
        late_worker.answering = False
        assert await comm.receive_nothing(timeout=1.5)
        assert late_worker.pings == 0
    finally:
        await comm.disconnect()
