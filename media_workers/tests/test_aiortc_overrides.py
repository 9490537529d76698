"""What media_workers/runtime/aiortc_overrides.py relies on in aiortc and aioice, and what it does.

If an upgrade of either library breaks an override, a test here fails.
"""

from __future__ import annotations

import asyncio
import inspect

import aioice.ice
import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription
from aiortc.codecs.opus import OpusEncoder
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtcrtpsender import RTCRtpSender

from media_workers.devtools.dsp import dominant_frequency, tone
from media_workers.runtime import aiortc_overrides, opus
from media_workers.runtime.aiortc_overrides import (
    InboundAudio,
    ask_for_fec,
    decode_inline,
    opus_packet,
    prefer_opus,
)
from media_workers.runtime.audio import FRAME_SAMPLES, SAMPLE_RATE
from media_workers.runtime.mixer import ListenerTrack
from media_workers.runtime.playout import PlayoutBuffer

# --- What the overrides rely on --------------------------------------------------------------


async def test_an_audio_receiver_keeps_its_jitter_buffer_where_decode_inline_replaces_it(
    peers: list[RTCPeerConnection],
) -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    peers.append(pc)
    receiver = pc.addTransceiver("audio").receiver

    attribute = "_RTCRtpReceiver__jitter_buffer"
    assert isinstance(getattr(receiver, attribute), JitterBuffer)
    inbound = decode_inline(receiver, lambda pcm: None, reorder_frames=1)
    assert getattr(receiver, attribute) is inbound
    # The receiver hands every packet to the buffer's add() and decodes what it returns.
    source = inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    assert "pli_flag, encoded_frame = self.__jitter_buffer.add(packet)" in source


def test_decode_inline_refuses_a_receiver_without_the_expected_buffer() -> None:
    with pytest.raises(RuntimeError, match="jitter buffer"):
        decode_inline(object(), lambda pcm: None, reorder_frames=1)  # type: ignore[arg-type]


def test_the_sender_sends_a_packet_as_it_is_at_the_48khz_rtp_clock() -> None:
    source = inspect.getsource(RTCRtpSender._next_encoded_frame)
    assert "payloads, timestamp = self.__encoder.pack(data)" in source

    payloads, timestamp = OpusEncoder().pack(opus_packet(b"\x01\x02", pts=3 * FRAME_SAMPLES))

    assert payloads == [b"\x01\x02"]
    assert timestamp == 3 * FRAME_SAMPLES * 2


def test_aioice_still_asks_get_host_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", aioice.ice.get_host_addresses)
    assert list(inspect.signature(aioice.ice.get_host_addresses).parameters) == ["use_ipv4", "use_ipv6"]
    assert "get_host_addresses(" in inspect.getsource(aioice.ice.Connection.gather_candidates)

    aiortc_overrides.restrict_host_addresses(["127.0.0.1", "::1"])

    assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False) == ["127.0.0.1"]
    assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["127.0.0.1", "::1"]


async def test_the_answer_offers_opus_only(peers: list[RTCPeerConnection]) -> None:
    browser = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    worker = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    peers += [browser, worker]
    browser.addTransceiver("audio")
    await browser.setLocalDescription(await browser.createOffer())
    assert "PCMU/8000" in browser.localDescription.sdp

    prefer_opus(worker.addTransceiver("audio", direction="sendrecv"))
    await worker.setRemoteDescription(browser.localDescription)
    answer = await worker.createAnswer()

    rtpmaps = [line for line in answer.sdp.splitlines() if line.startswith("a=rtpmap:")]
    assert rtpmaps and all("opus/48000/2" in line for line in rtpmaps)


async def test_the_answer_asks_for_in_band_fec(peers: list[RTCPeerConnection]) -> None:
    browser = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    worker = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    peers += [browser, worker]
    browser.addTransceiver("audio")
    await browser.setLocalDescription(await browser.createOffer())
    transceiver = worker.addTransceiver("audio", direction="sendrecv")

    await worker.setRemoteDescription(browser.localDescription)
    ask_for_fec(transceiver)
    await worker.setLocalDescription(await worker.createAnswer())

    fmtp = [line for line in worker.localDescription.sdp.splitlines() if line.startswith("a=fmtp:")]
    assert any(line.endswith(" useinbandfec=1") for line in fmtp)


# --- Both overrides between two real peers ---------------------------------------------------


async def test_a_listener_track_reaches_an_inline_decoder_through_real_peers(
    peers: list[RTCPeerConnection], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    sender = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    receiver = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    peers += [sender, receiver]
    buffer = PlayoutBuffer(max_ms=5000)
    buffer.push(tone(600, 4.0))
    track = ListenerTrack()
    track.set_source("translation", buffer, gain=1.0)
    sender.addTrack(track)
    heard: list[bytes] = []
    enough = asyncio.Event()

    def sink(pcm: bytes) -> None:
        heard.append(pcm)
        if len(heard) >= 60:
            enough.set()

    transceiver = receiver.addTransceiver("audio", direction="recvonly")
    prefer_opus(transceiver)
    inbound = decode_inline(transceiver.receiver, sink, reorder_frames=1)
    await sender.setLocalDescription(await sender.createOffer())
    await receiver.setRemoteDescription(sender.localDescription)
    await receiver.setLocalDescription(await receiver.createAnswer())
    await sender.setRemoteDescription(RTCSessionDescription(**receiver.localDescription.__dict__))

    await asyncio.wait_for(enough.wait(), timeout=15)

    assert {len(pcm) for pcm in heard} == {FRAME_SAMPLES * 2}
    samples = np.frombuffer(b"".join(heard), dtype=np.int16)
    assert dominant_frequency(samples[10 * FRAME_SAMPLES :]) == pytest.approx(600, abs=10)
    assert inbound.decoded == len(heard)
    # aiortc's own path got nothing: its track's queue stays empty.
    assert transceiver.receiver.track._queue.empty()  # type: ignore[attr-defined]


# --- InboundAudio's ordering and loss handling -----------------------------------------------


def _numbered_packets(count: int) -> list[bytes]:
    """Packets whose frames are tones of 400, 500, 600... Hz, so each one can be told apart."""
    encoder = opus.Encoder()
    return [encoder.encode(tone(400 + 100 * (i % 8), FRAME_SAMPLES / SAMPLE_RATE)) for i in range(count)]


class _Sink:
    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def __call__(self, pcm: bytes) -> None:
        self.frames.append(pcm)


def test_in_order_packets_are_decoded_at_once() -> None:
    packets, sink = _numbered_packets(3), _Sink()
    inbound = InboundAudio(sink, reorder_frames=2)

    for i, packet in enumerate(packets):
        inbound.push(1000 + i, packet)
        assert len(sink.frames) == i + 1

    assert (inbound.decoded, inbound.concealed, inbound.recovered) == (3, 0, 0)


def test_a_reordered_packet_is_waited_for_within_the_window() -> None:
    packets, sink = _numbered_packets(4), _Sink()
    inbound = InboundAudio(sink, reorder_frames=1)
    inbound.push(10, packets[0])

    inbound.push(12, packets[2])
    assert len(sink.frames) == 1
    inbound.push(11, packets[1])
    assert len(sink.frames) == 3
    inbound.push(13, packets[3])

    assert len(sink.frames) == 4
    assert (inbound.decoded, inbound.concealed, inbound.recovered) == (4, 0, 0)


def test_a_lost_packet_is_recovered_from_fec_once_the_window_passes() -> None:
    packets, sink = _numbered_packets(5), _Sink()
    inbound = InboundAudio(sink, reorder_frames=1)
    inbound.push(10, packets[0])

    inbound.push(12, packets[2])
    inbound.push(13, packets[3])

    assert len(sink.frames) == 4
    assert {len(pcm) for pcm in sink.frames} == {FRAME_SAMPLES * 2}
    assert (inbound.decoded, inbound.recovered, inbound.concealed) == (3, 1, 0)
    # The lost one, arriving now, is too late: its place was played.
    inbound.push(11, packets[1])
    assert len(sink.frames) == 4
    assert inbound.dropped == 1


def test_a_burst_of_losses_is_concealed_and_the_stream_keeps_its_length() -> None:
    packets, sink = _numbered_packets(8), _Sink()
    inbound = InboundAudio(sink, reorder_frames=0)
    inbound.push(65534, packets[0])

    inbound.push(3, packets[5])

    # 65535, 0, 1 concealed; 2 recovered from 3's FEC; then 3 itself: across the wrap.
    assert len(sink.frames) == 6
    assert (inbound.decoded, inbound.recovered, inbound.concealed) == (2, 1, 3)


def test_a_jump_in_sequence_numbers_starts_over_without_concealing() -> None:
    packets, sink = _numbered_packets(2), _Sink()
    inbound = InboundAudio(sink, reorder_frames=1)
    inbound.push(100, packets[0])

    inbound.push(30000, packets[1])

    assert len(sink.frames) == 2
    assert inbound.concealed == inbound.recovered == 0


def test_a_corrupt_packet_is_concealed() -> None:
    sink = _Sink()
    inbound = InboundAudio(sink, reorder_frames=1)
    inbound.push(1, _numbered_packets(1)[0])

    inbound.push(2, b"\xff\xff\xff")

    assert len(sink.frames) == 2
    assert inbound.concealed == 1


def test_a_negative_window_is_refused() -> None:
    with pytest.raises(ValueError, match="reorder_frames"):
        InboundAudio(_Sink(), reorder_frames=-1)
