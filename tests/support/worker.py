"""In-process helpers for the media worker's tests: a recording outbox, offers, people, a call."""

from __future__ import annotations

from typing import Any

from aiortc import RTCPeerConnection
from openai import AsyncOpenAI

from media_workers.devtools.call_client import ToneTrack
from media_workers.devtools.fake_openai import FakeOpenAIServer
from media_workers.runtime.call import Call
from media_workers.runtime.slots import OwnerSlots
from media_workers.runtime.translation import TranslationSession
from media_workers.shared.contract import Message, ParticipantInfo, parse


class Outbox:
    """What the worker would send to pages and groups, as it would go on the channel layer."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.group: list[tuple[str, dict[str, Any]]] = []

    def send(self, channel: str, message: Message) -> None:
        self.sent.append((channel, on_the_wire(message)))

    def group_send(self, group: str, message: Message) -> None:
        self.group.append((group, on_the_wire(message)))

    def to(self, channel: str, kind: str) -> list[dict[str, Any]]:
        return [m for c, m in self.sent if c == channel and m["type"] == kind]


def on_the_wire(message: Message) -> dict[str, Any]:
    """The message as the channel layer carries it; the other side must read it back the same."""
    raw = message.to_dict()
    assert parse(raw) == message
    return raw


def make_call(
    fake: FakeOpenAIServer, outbox: Outbox, slots: OwnerSlots | None = None, room: str = "room"
) -> Call:
    call = Call(
        room_id=room,
        outbox=outbox,
        client=AsyncOpenAI(api_key="test", base_url=fake.base_url, max_retries=0),
        on_empty=lambda call: None,
        slots=slots,
    )
    call.payer_id = 7
    return call


async def make_offer(peers: list[RTCPeerConnection], *, video: bool = False) -> str:
    """A browser-like offer (one audio section) from a real peer connection on 127.0.0.1."""
    pc = RTCPeerConnection()
    peers.append(pc)
    pc.addTrack(ToneTrack(400))
    if video:
        pc.addTransceiver("video")
    await pc.setLocalDescription(await pc.createOffer())
    return pc.localDescription.sdp


def person(pid: str, language: str) -> ParticipantInfo:
    return ParticipantInfo(id=pid, name=pid, speak=language, hear=language, original_volume=0.15)


class Listener:
    """Collects what a session hands the call."""

    def __init__(self) -> None:
        self.audio = bytearray()
        # Each output delta as it arrived: one engine frame (or the flushed part of one).
        self.deltas: list[bytes] = []
        self.transcripts: list[tuple[str, str]] = []
        self.statuses: list[str] = []

    def on_translated_audio(self, session: TranslationSession, pcm: bytes) -> None:
        self.audio += pcm
        self.deltas.append(pcm)

    def on_transcript(self, session: TranslationSession, *, kind: str, text: str) -> None:
        self.transcripts.append((kind, text))

    def on_session_status(self, session: TranslationSession, status: str, detail: str) -> None:
        self.statuses.append(status)
