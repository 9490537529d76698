"""Every place the worker reaches into aiortc (and aioice) beyond their public API.

Each override says what it replaces and why; media_workers/tests/test_aiortc_overrides.py
fails if an aiortc or aioice upgrade moves what it relies on. Nothing here is applied at
import: the worker calls each one on the objects it owns.
"""

from __future__ import annotations

import fractions
import logging
from collections.abc import Callable
from typing import Any, Protocol

import aioice.ice
import av
from aiortc import RTCRtpReceiver, RTCRtpTransceiver
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtp import RtpPacket

from media_workers.runtime import opus
from media_workers.runtime.audio import SAMPLE_RATE

logger = logging.getLogger(__name__)

# --- Receive: decode on the event loop, in order, without aiortc's jitter buffer ---------------
#
# Replaces: the `JitterBuffer(capacity=16, prefetch=4)` that `RTCRtpReceiver.__init__` gives
# every audio receiver (a name-mangled attribute), and with it the decoder thread's work.
# Why: that buffer releases a packet only once 4 more have arrived (80 ms on every inbound
# hop, bench/README.md) and waits for a lost packet until 16 have piled up; each released
# frame then crosses to a decoder thread and back (a loop wake-up per frame) and comes out
# as 48 kHz stereo for the worker to resample. `InboundAudio` takes the buffer's place in
# `_handle_rtp_packet`: it decodes each packet as soon as it is next in sequence, straight to
# 24 kHz mono, and hands the PCM to the participant; it returns no frame, so aiortc's decoder
# thread sits idle and its track stays empty (the worker does not read it).
_JITTER_BUFFER_ATTRIBUTE = "_RTCRtpReceiver__jitter_buffer"
# A sequence number this far ahead means the sender started over, not a loss to conceal.
MAX_SEQUENCE_JUMP = 50


class InboundAudio:
    """An audio receiver's packets, decoded in sequence order as soon as they can be.

    A missing packet is waited for while at most `reorder_frames` later ones have arrived
    (reordering); after that it is recovered from the next packet's in-band FEC if that one is
    here, or concealed by libopus. A packet arriving after its place was concealed is dropped.
    """

    def __init__(self, sink: Callable[[bytes], None], *, reorder_frames: int) -> None:
        if reorder_frames < 0:
            raise ValueError(f"reorder_frames must be 0 or more, got {reorder_frames}")
        self._sink = sink
        self._reorder = reorder_frames
        self._decoder = opus.Decoder()
        self._next: int | None = None
        self._held: dict[int, bytes] = {}
        self.decoded = 0
        self.recovered = 0
        self.concealed = 0
        self.dropped = 0

    # The one method `RTCRtpReceiver._handle_rtp_packet` calls: (send a PLI?, frame to decode).
    def add(self, packet: RtpPacket) -> tuple[bool, None]:
        payload = packet.payload
        if payload:
            self.push(packet.sequence_number, payload)
        return False, None

    def push(self, sequence: int, payload: bytes) -> None:
        if self._next is None:
            self._next = sequence
        ahead = (sequence - self._next) & 0xFFFF
        if ahead >= 0x8000:
            self.dropped += 1  # late or a duplicate: its place was played already
            return
        if ahead > MAX_SEQUENCE_JUMP:
            self._held.clear()
            self._next = sequence
        self._held[sequence] = payload
        self._release()

    def _release(self) -> None:
        held = self._held
        while held:
            assert self._next is not None
            payload = held.pop(self._next, None)
            if payload is not None:
                self._emit(payload, lost=False)
            elif max((s - self._next) & 0xFFFF for s in held) > self._reorder:
                self._emit(held.get((self._next + 1) & 0xFFFF), lost=True)
            else:
                return
            self._next = (self._next + 1) & 0xFFFF

    def _emit(self, payload: bytes | None, *, lost: bool) -> None:
        try:
            if not lost:
                pcm = self._decoder.decode(payload or b"")
                self.decoded += 1
            elif payload:
                pcm = self._decoder.conceal(payload)
                self.recovered += 1
            else:
                pcm = self._decoder.conceal()
                self.concealed += 1
        except opus.OpusError as exc:
            # A corrupt packet: concealed like a lost one, so the stream keeps its length.
            logger.debug("inbound audio: %s", exc)
            pcm = self._decoder.conceal()
            self.concealed += 1
        self._sink(pcm)


class PacketSink(Protocol):
    def add(self, packet: RtpPacket) -> tuple[bool, None]: ...


def replace_jitter_buffer(receiver: RTCRtpReceiver, sink: PacketSink) -> None:
    """Hand every RTP packet `receiver` gets to `sink` instead of aiortc's jitter buffer."""
    current = getattr(receiver, _JITTER_BUFFER_ATTRIBUTE, None)
    if not isinstance(current, JitterBuffer):
        raise RuntimeError("aiortc's RTCRtpReceiver no longer keeps its jitter buffer where expected")
    setattr(receiver, _JITTER_BUFFER_ATTRIBUTE, sink)


def decode_inline(
    receiver: RTCRtpReceiver, sink: Callable[[bytes], None], *, reorder_frames: int
) -> InboundAudio:
    """Make an audio receiver decode on the loop into `sink` (PCM16 mono 24 kHz per packet)."""
    inbound = InboundAudio(sink, reorder_frames=reorder_frames)
    replace_jitter_buffer(receiver, inbound)
    return inbound


def prefer_opus(transceiver: RTCRtpTransceiver) -> None:
    """Answer with Opus only: the worker decodes and encodes nothing else (public API, no patch).

    Call it before the offer is applied: aiortc negotiates a transceiver's codecs then.
    """
    capabilities = RTCRtpReceiver.getCapabilities("audio")
    assert capabilities is not None
    transceiver.setCodecPreferences([c for c in capabilities.codecs if c.mimeType.lower() == "audio/opus"])


# --- Answer: ask the browser for in-band FEC --------------------------------------------------
#
# Replaces: the parameters of a transceiver's negotiated Opus codec (`RTCRtpTransceiver._codecs`,
# set when the offer is applied), which aiortc leaves empty. Why: a browser adds in-band FEC to
# what it sends only when the answer says `useinbandfec=1`; InboundAudio recovers a lost packet
# from the next one's FEC with it.
def ask_for_fec(transceiver: RTCRtpTransceiver) -> None:
    """Call between applying the offer and creating the answer."""
    for codec in transceiver._codecs:
        if codec.mimeType.lower() == "audio/opus":
            codec.parameters["useinbandfec"] = 1


# --- Send: hand aiortc's sender Opus packets, not frames -----------------------------------
#
# Replaces: nothing is patched. `RTCRtpSender._next_encoded_frame` sends whatever a track's
# recv() returns that is not an `av.Frame` as pre-encoded, through `OpusEncoder.pack`, which
# converts the packet's pts to the 48 kHz RTP clock. Why: its own path resamples every frame
# to 48 kHz stereo and encodes it at 96 kbit/s on a thread-pool hop per 20 ms frame; the
# listener's track encodes its mix itself (opus.Encoder, mono, voice bitrate, inline).
TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)


def opus_packet(payload: bytes, pts: int) -> av.Packet[Any]:
    """An encoded frame for aiortc's sender; pts counts samples at 24 kHz."""
    packet = av.Packet(payload)
    packet.pts = pts
    packet.time_base = TIME_BASE
    return packet


# --- ICE: which host addresses aioice offers ------------------------------------------------
#
# Replaces: `aioice.ice.get_host_addresses`, module-wide. Why: aioice enumerates the
# machine's interfaces and always leaves out 127.0.0.1, so a loopback-only deployment (tests,
# benchmarks, a laptop demo) must replace the list (ICE_HOST_ADDRESSES).
def restrict_host_addresses(addresses: list[str]) -> None:
    """Make aioice offer exactly `addresses` as host candidates."""
    allowed = list(addresses)

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in allowed if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = get_host_addresses
