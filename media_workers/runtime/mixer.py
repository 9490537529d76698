"""Each listener's single outbound audio track, mixing its playout buffers every 20 ms."""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media_workers.runtime.audio import FRAME_SAMPLES, FrameClock, pcm_to_frame
from media_workers.runtime.playout import PlayoutBuffer

logger = logging.getLogger(__name__)

_INT16_MIN = -32768
_INT16_MAX = 32767


@dataclass(frozen=True, slots=True)
class MixSource:
    """A playout buffer feeding a listener's mix and the gain it plays at."""

    buffer: PlayoutBuffer
    gain: float


class ListenerTrack(MediaStreamTrack):
    """The one outbound audio track of a listener: its sources mixed into paced 20 ms frames."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._sources: dict[Hashable, MixSource] = {}
        self._sources_view = MappingProxyType(self._sources)
        # Reused every frame so mixing allocates only the int16 frame it returns.
        self._mix = np.empty(FRAME_SAMPLES, dtype=np.float32)
        self._scaled = np.empty(FRAME_SAMPLES, dtype=np.float32)
        self._clock = FrameClock()
        self.frames_sent = 0
        # Underruns of sources already removed, so the total logged at stop() covers them.
        self._gone_underruns = 0
        self.last_level = 0.0

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

    def mix_frame(self) -> np.ndarray:
        """Pull one frame from every source and return their gained, clipped int16 sum."""
        mixed = False
        for source in self._sources.values():
            samples = source.buffer.pull(FRAME_SAMPLES)
            if samples is None:
                continue
            if mixed:
                np.multiply(samples, source.gain, out=self._scaled, dtype=np.float32)
                np.add(self._mix, self._scaled, out=self._mix)
            else:
                np.multiply(samples, source.gain, out=self._mix, dtype=np.float32)
                mixed = True
        if not mixed:
            self.last_level = 0.0
            return np.zeros(FRAME_SAMPLES, dtype=np.int16)
        peak = float(np.abs(self._mix, out=self._scaled).max())
        self.last_level = min(peak / -_INT16_MIN, 1.0)
        np.clip(self._mix, _INT16_MIN, _INT16_MAX, out=self._mix)
        np.rint(self._mix, out=self._mix)
        return self._mix.astype(np.int16)

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        pts = await self._clock.next_frame()
        frame = pcm_to_frame(self.mix_frame(), pts)
        self.frames_sent += 1
        return frame

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
