"""Each listener's single outbound audio track: its playout buffers mixed and encoded every frame."""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media_workers.runtime import opus
from media_workers.runtime.aiortc_overrides import opus_packet
from media_workers.runtime.audio import FRAME_MS, FrameClock
from media_workers.runtime.playout import PlayoutBuffer

logger = logging.getLogger(__name__)

_INT16_MIN = -32768
_INT16_MAX = 32767
# After this many frames with nothing to play the encoder has flushed its look-ahead (the end
# of the last sound): from then on the listener gets opus.silence() and nothing is encoded.
_SILENCE_SETTLE_FRAMES = 3
# A mix that stays within this (about -66 dBFS: a decoder's noise floor in a pause) is silence.
QUIET_PEAK = 16


@dataclass(frozen=True, slots=True)
class MixSource:
    """A playout buffer feeding a listener's mix and the gain it plays at."""

    buffer: PlayoutBuffer
    gain: float


class ListenerTrack(MediaStreamTrack):
    """The one outbound audio track of a listener: its sources mixed into paced Opus packets.

    recv() returns encoded packets, which aiortc's sender sends as they are
    (aiortc_overrides.opus_packet): mono Opus at a voice bitrate, encoded here, inline.
    """

    kind = "audio"

    def __init__(self, frame_ms: int = FRAME_MS) -> None:
        super().__init__()
        self._sources: dict[Hashable, MixSource] = {}
        self._sources_view = MappingProxyType(self._sources)
        self._clock = FrameClock(frame_ms)
        self.frame_samples = self._clock.frame_samples
        # Reused every frame so mixing allocates only the int16 frame it returns.
        self._mix = np.empty(self.frame_samples, dtype=np.float32)
        self._scaled = np.empty(self.frame_samples, dtype=np.float32)
        self._silence = np.zeros(self.frame_samples, dtype=np.int16)
        self._encoder = opus.Encoder()
        self._quiet_frames = 0
        self._quiet_packet = opus.silence(self.frame_samples)
        self.frames_sent = 0
        # Underruns of sources already removed, so the total logged at stop() covers them.
        self._gone_underruns = 0

    @property
    def sources(self) -> Mapping[Hashable, MixSource]:
        return self._sources_view

    def set_source(self, key: Hashable, buffer: PlayoutBuffer, gain: float) -> None:
        self._sources[key] = MixSource(buffer, gain)

    def remove_source(self, key: Hashable) -> None:
        source = self._sources.pop(key, None)
        if source is not None:
            self._gone_underruns += source.buffer.underruns

    def set_gain(self, key: Hashable, gain: float) -> None:
        self._sources[key] = MixSource(self._sources[key].buffer, gain)

    def mix_frame(self) -> np.ndarray | None:
        """Pull one frame from every source: their gained, clipped int16 sum, or None if all were empty."""
        mixed = False
        n = self.frame_samples
        for source in self._sources.values():
            samples = source.buffer.pull(n)
            if samples is None:
                continue
            if mixed:
                np.multiply(samples, source.gain, out=self._scaled, dtype=np.float32)
                np.add(self._mix, self._scaled, out=self._mix)
            else:
                np.multiply(samples, source.gain, out=self._mix, dtype=np.float32)
                mixed = True
        if not mixed:
            return None
        np.clip(self._mix, _INT16_MIN, _INT16_MAX, out=self._mix)
        np.rint(self._mix, out=self._mix)
        return self._mix.astype(np.int16)

    def encode_frame(self) -> bytes:
        """The next frame of the mix as one Opus packet."""
        mixed = self.mix_frame()
        if mixed is not None and (mixed.max() > QUIET_PEAK or mixed.min() < -QUIET_PEAK):
            self._quiet_frames = 0
            return self._encoder.encode(mixed)
        self._quiet_frames += 1
        if self._quiet_frames <= _SILENCE_SETTLE_FRAMES:
            return self._encoder.encode(self._silence)
        return self._quiet_packet

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        pts = await self._clock.next_frame()
        packet = opus_packet(self.encode_frame(), pts)
        self.frames_sent += 1
        return packet

    @property
    def late_frames(self) -> int:
        return self._clock.late_frames

    def stop(self) -> None:
        if self.readyState == "live":
            logger.info(
                "listener track %s stopped: %d frames sent, %d late, %d underruns",
                self.id,
                self.frames_sent,
                self.late_frames,
                self._gone_underruns + sum(s.buffer.underruns for s in self._sources.values()),
            )
        self._sources.clear()
        super().stop()
