"""Marked sound events: a microphone that emits short tone bursts at known send times, and a
detector that finds their onsets in what a participant heard and matches them to the sends.

Every path under test (direct aiortc peers, the straightforward relay, our media worker) uses
this same source and detector, so the differences between paths are what the paths add.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media_workers.devtools.dsp import ToneGenerator, dominant_frequency
from media_workers.runtime import opus
from media_workers.runtime.aiortc_overrides import opus_packet
from media_workers.runtime.audio import FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE, FrameClock, pcm_to_frame

# The burst's frequency cycles through these, so an onset can be matched to its send even
# when the path delays it by more than one period (up to len(FREQS) periods).
FREQS = (500.0, 800.0, 1100.0, 1400.0)
PERIOD_MS = 200
BURST_MS = 40
FREQ_TOLERANCE_HZ = 80.0
# 1 ms blocks; an onset is the first loud block after at least GAP_MS of quiet.
BLOCK = SAMPLE_RATE // 1000
ONSET_RMS = 1500.0
GAP_MS = 80


class BurstTrack(MediaStreamTrack):
    """A microphone that is silent except for a BURST_MS tone every PERIOD_MS, paced in real time.

    Each burst starts on a frame boundary; `sent` holds (monotonic time the frame left recv(),
    frequency) for every burst, which is when aiortc takes it to encode and send.
    """

    kind = "audio"

    def __init__(self, amplitude: float = 0.3) -> None:
        super().__init__()
        self.amplitude = amplitude
        self.sent: list[tuple[float, float]] = []
        self._clock = FrameClock()
        self._silence = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        self._generator = ToneGenerator(FREQS[0], SAMPLE_RATE, amplitude)

    def samples(self, index: int) -> tuple[float, npt.NDArray[np.int16]]:
        """Frame `index` of the microphone: (burst frequency or 0, its samples); call in order."""
        per_period = PERIOD_MS // FRAME_MS
        phase = index % per_period
        if phase >= BURST_MS // FRAME_MS:
            return 0.0, self._silence
        freq = FREQS[(index // per_period) % len(FREQS)]
        if phase == 0:
            self._generator = ToneGenerator(freq, SAMPLE_RATE, self.amplitude)
        return freq, self._generator.next(FRAME_SAMPLES)

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        pts = await self._clock.next_frame()
        index = pts // FRAME_SAMPLES
        freq, samples = self.samples(index)
        frame = pcm_to_frame(samples, pts)
        if index % (PERIOD_MS // FRAME_MS) == 0:
            self.sent.append((time.monotonic(), freq))
        return frame


# One full cycle of the bursts' frequencies, in 20 ms frames.
CYCLE_FRAMES = len(FREQS) * PERIOD_MS // FRAME_MS


class PacketBurstTrack(MediaStreamTrack):
    """BurstTrack's sound as Opus packets encoded once per process: a microphone that costs no
    encoding, for the load generator's rooms that do not measure latency."""

    kind = "audio"
    _cycle: list[bytes] = []

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[float, float]] = []
        self._clock = FrameClock()
        if not PacketBurstTrack._cycle:
            source, encoder = BurstTrack(), opus.Encoder()
            PacketBurstTrack._cycle = [encoder.encode(source.samples(i)[1]) for i in range(CYCLE_FRAMES)]

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        pts = await self._clock.next_frame()
        return opus_packet(self._cycle[(pts // FRAME_SAMPLES) % CYCLE_FRAMES], pts)


class PacketCounter:
    """Takes an aiortc audio receiver's jitter buffer's place and only notes when packets arrive."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []

    def add(self, packet: object) -> tuple[bool, None]:
        self.arrivals.append(time.monotonic())
        return False, None


def onsets(chunks: list[tuple[float, npt.NDArray[np.int16]]]) -> list[tuple[float, float]]:
    """(time, frequency) of every burst onset in received audio.

    A sample's time is its chunk's arrival time plus its offset in the chunk: when a player
    that starts each chunk on arrival would play it.
    """
    if not chunks:
        return []
    audio = np.concatenate([samples for _, samples in chunks]).astype(np.float32)
    times = np.concatenate(
        [at + np.arange(samples.size, dtype=np.float64) / SAMPLE_RATE for at, samples in chunks]
    )
    blocks = audio.size // BLOCK
    power = (audio[: blocks * BLOCK].reshape(blocks, BLOCK) ** 2).mean(axis=1)
    loud = np.flatnonzero(power > ONSET_RMS**2)
    found: list[tuple[float, float]] = []
    last = -(10**9)
    for block in loud:
        if block - last > GAP_MS:
            start = int(block) * BLOCK
            # Skip the first ms or two, where the codec's attack smears the spectrum.
            window = audio[start + 2 * BLOCK : start + (BURST_MS - 5) * BLOCK]
            freq = dominant_frequency(window, SAMPLE_RATE) if window.size > 200 else None
            if freq is not None:
                found.append((float(times[start]), freq))
        last = int(block)
    return found


@dataclass
class Latencies:
    """Burst latencies (seconds) of one direction of one path, and what could not be matched."""

    values: list[float] = field(default_factory=list)
    sent: int = 0
    unmatched: int = 0


def match(
    sent: list[tuple[float, float]], heard: list[tuple[float, float]], since: float, until: float
) -> Latencies:
    """Pair each burst sent within [since, until) with its first onset heard."""
    result = Latencies()
    horizon = len(FREQS) * PERIOD_MS / 1000
    wanted = [(at, freq) for at, freq in sent if since <= at < until]
    result.sent = len(wanted)
    taken: set[float] = set()
    for at, freq in heard:
        candidates = [s for s, f in wanted if abs(freq - f) <= FREQ_TOLERANCE_HZ and s <= at < s + horizon]
        if not candidates:
            continue
        # The latest matching send: an older one of the same frequency is a period behind.
        send = max(candidates)
        if send not in taken:
            taken.add(send)
            result.values.append(at - send)
    result.unmatched = result.sent - len(result.values)
    return result


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    """p50/p95/p99 in milliseconds."""
    if not values:
        return {"n": 0, "p50": None, "p95": None, "p99": None}
    ms = np.asarray(values) * 1000
    return {
        "n": int(ms.size),
        "p50": round(float(np.percentile(ms, 50)), 1),
        "p95": round(float(np.percentile(ms, 95)), 1),
        "p99": round(float(np.percentile(ms, 99)), 1),
    }
