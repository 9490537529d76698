from __future__ import annotations

import asyncio
import fractions
import time

import aioice.ice
import av
import numpy as np
import pytest
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError

from media_workers.devtools.dsp import dominant_frequency, tone
from media_workers.runtime import opus
from media_workers.runtime.audio import FRAME_SAMPLES, SAMPLE_RATE, InboundResampler
from media_workers.runtime.mixer import ListenerTrack
from media_workers.runtime.playout import PlayoutBuffer


def _buffer_with(*values: int) -> PlayoutBuffer:
    """A buffer holding one 20 ms frame of each constant value, in order."""
    buffer = PlayoutBuffer(max_ms=1000)
    for value in values:
        buffer.push(np.full(FRAME_SAMPLES, value, dtype=np.int16))
    return buffer


def _mixed(track: ListenerTrack) -> np.ndarray:
    mixed = track.mix_frame()
    assert mixed is not None
    return mixed


def _tone_buffer(freq: float, seconds: float) -> PlayoutBuffer:
    buffer = PlayoutBuffer(max_ms=5000)
    buffer.push(tone(freq, seconds))
    return buffer


def test_it_sums_sources_with_their_gains() -> None:
    track = ListenerTrack()
    track.set_source("translation", _buffer_with(1000), gain=1.0)
    track.set_source("voice", _buffer_with(-2000), gain=0.25)

    mixed = _mixed(track)

    assert mixed.dtype == np.int16
    np.testing.assert_array_equal(mixed, np.full(FRAME_SAMPLES, 500, dtype=np.int16))


def test_it_clips_at_the_int16_limits() -> None:
    track = ListenerTrack()
    track.set_source("a", _buffer_with(30000, -30000), gain=1.0)
    track.set_source("b", _buffer_with(20000, -20000), gain=1.0)

    assert set(_mixed(track)) == {32767}
    assert set(_mixed(track)) == {-32768}


def test_it_has_nothing_to_mix_when_no_source_has_audio() -> None:
    track = ListenerTrack()
    assert track.mix_frame() is None

    track.set_source("a", _buffer_with(1000), gain=1.0)
    assert track.mix_frame() is not None

    assert track.mix_frame() is None


def test_it_sends_true_silence_once_the_encoder_has_settled() -> None:
    track = ListenerTrack()
    track.set_source("a", _tone_buffer(1250, 0.2), gain=1.0)
    decoder = opus.Decoder()
    for _ in range(10):
        decoder.decode(track.encode_frame())

    quiet = [track.encode_frame() for _ in range(6)]

    # A few silent frames flush the encoder (the tone's end); then the silence packet.
    assert all(packet is opus.silence(FRAME_SAMPLES) for packet in quiet[3:])
    decoded = [np.frombuffer(decoder.decode(packet), dtype=np.int16) for packet in quiet]
    assert not any(samples.any() for samples in decoded[3:])


def test_a_pause_at_the_noise_floor_is_sent_as_silence_too() -> None:
    track = ListenerTrack()
    track.set_source("translation", _tone_buffer(700, 0.1), gain=1.0)
    noise = PlayoutBuffer(max_ms=1000)
    noise.push(np.resize(np.array([9, -12, 4, -7], dtype=np.int16), 10 * FRAME_SAMPLES))
    track.set_source("voice", noise, gain=1.0)
    for _ in range(5):
        track.encode_frame()

    packets = [track.encode_frame() for _ in range(5)]

    assert all(packet is opus.silence(FRAME_SAMPLES) for packet in packets[3:])


def test_it_stops_mixing_a_removed_source() -> None:
    track = ListenerTrack()
    voice = _buffer_with(700, 700)
    track.set_source("translation", _buffer_with(100, 100), gain=1.0)
    track.set_source("voice", voice, gain=1.0)
    assert set(_mixed(track)) == {800}

    track.remove_source("voice")

    assert set(track.sources) == {"translation"}
    assert set(_mixed(track)) == {100}
    assert voice.buffered_ms == 20


def test_it_applies_a_gain_change_to_the_next_frame() -> None:
    track = ListenerTrack()
    track.set_source("voice", _buffer_with(1000, 1000), gain=1.0)
    assert set(_mixed(track)) == {1000}

    track.set_gain("voice", 0.3)

    assert set(_mixed(track)) == {300}
    assert track.sources["voice"].gain == 0.3


def test_its_sources_cannot_be_changed_through_the_view() -> None:
    track = ListenerTrack()
    track.set_source("a", _buffer_with(1), gain=1.0)

    with pytest.raises(TypeError):
        track.sources["b"] = track.sources["a"]  # type: ignore[index]


async def test_it_paces_20ms_opus_packets_with_increasing_pts() -> None:
    track = ListenerTrack()
    track.set_source("tone", _tone_buffer(600, 0.1), gain=1.0)
    started = time.monotonic()

    packets = [await track.recv() for _ in range(10)]

    elapsed = time.monotonic() - started
    assert [p.pts for p in packets] == [i * FRAME_SAMPLES for i in range(10)]
    assert {p.time_base for p in packets} == {fractions.Fraction(1, SAMPLE_RATE)}
    decoder = opus.Decoder()
    decoded = [np.frombuffer(decoder.decode(bytes(p)), dtype=np.int16) for p in packets]
    assert {len(samples) for samples in decoded} == {FRAME_SAMPLES}
    assert np.abs(decoded[3]).max() > 1000
    assert np.abs(decoded[9]).max() < 100
    # The tenth frame is due 180 ms after the first; the upper bound only catches a hang.
    assert 0.17 <= elapsed < 5
    assert track.frames_sent == 10


async def test_it_sends_longer_packets_when_asked() -> None:
    track = ListenerTrack(frame_ms=40)
    track.set_source("tone", _tone_buffer(600, 0.2), gain=1.0)

    packets = [await track.recv() for _ in range(3)]

    assert [p.pts for p in packets] == [0, 2 * FRAME_SAMPLES, 4 * FRAME_SAMPLES]
    decoder = opus.Decoder()
    assert {len(decoder.decode(bytes(p))) for p in packets} == {4 * FRAME_SAMPLES}


async def test_it_counts_a_frame_asked_for_late() -> None:
    track = ListenerTrack()
    await track.recv()
    # The next frame is due 20 ms in; asking 40 ms after that is what an overloaded worker does.
    await asyncio.sleep(0.06)

    await track.recv()

    assert track.late_frames == 1


async def test_it_refuses_frames_once_stopped() -> None:
    track = ListenerTrack()
    track.set_source("a", _buffer_with(1), gain=1.0)

    track.stop()

    assert track.readyState == "ended"
    assert len(track.sources) == 0
    with pytest.raises(MediaStreamError):
        await track.recv()


async def _connect(sender: RTCPeerConnection, receiver: RTCPeerConnection) -> None:
    await sender.setLocalDescription(await sender.createOffer())
    await receiver.setRemoteDescription(sender.localDescription)
    await receiver.setLocalDescription(await receiver.createAnswer())
    await sender.setRemoteDescription(receiver.localDescription)


async def _receive_tone(
    remote: asyncio.Future[MediaStreamTrack], frames: int
) -> tuple[set[tuple[str, str, int]], bytes]:
    track = await remote
    resampler = InboundResampler()
    shapes = set()
    pcm = []
    for _ in range(frames):
        frame = await track.recv()
        assert isinstance(frame, av.AudioFrame)
        shapes.add((frame.format.name, frame.layout.name, frame.sample_rate))
        pcm.append(resampler(frame))
    return shapes, b"".join(pcm)


async def test_it_carries_the_mix_through_opus_to_a_peer(monkeypatch: pytest.MonkeyPatch) -> None:
    # aioice never offers 127.0.0.1, so a loopback-only test must hand it the address itself.
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    sender = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    receiver = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    buffer = PlayoutBuffer(max_ms=5000)
    buffer.push(tone(600, 4.0))
    track = ListenerTrack()
    track.set_source("translation", buffer, gain=1.0)
    sender.addTrack(track)
    remote: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
    receiver.on("track", remote.set_result)
    try:
        await asyncio.wait_for(_connect(sender, receiver), timeout=10)
        shapes, pcm = await asyncio.wait_for(_receive_tone(remote, frames=60), timeout=10)
    finally:
        await sender.close()
        await receiver.close()

    assert shapes == {("s16", "stereo", 48000)}
    samples = np.frombuffer(pcm, dtype=np.int16)
    # Skip the first 200 ms, where the codec is still settling.
    assert dominant_frequency(samples[10 * FRAME_SAMPLES :]) == pytest.approx(600, abs=10)
    assert track.frames_sent >= 60
