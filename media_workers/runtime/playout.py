"""Bounded per-source playout buffers between what arrives (bursty) and the 20 ms mixer clock."""

from __future__ import annotations

import numpy as np

from media_workers.runtime.audio import SAMPLE_RATE

_SAMPLES_PER_MS = SAMPLE_RATE // 1000
# A frame whose samples all stay within this (about -44 dBFS) is silence that may be skipped.
SILENCE_PEAK = 200
# At most this many frames are skipped per pull, so catching up never empties the buffer in
# one go and a long backlog drains over a few frames instead.
_MAX_SKIPS_PER_PULL = 8


class PlayoutBuffer:
    """A bounded FIFO of int16 samples at 24 kHz from one source to one listener."""

    def __init__(self, max_ms: int, prebuffer_ms: int = 0, catch_up_ms: int | None = None) -> None:
        if max_ms <= 0:
            raise ValueError(f"max_ms must be positive, got {max_ms}")
        if not 0 <= prebuffer_ms <= max_ms:
            raise ValueError(f"prebuffer_ms must be within 0..{max_ms}, got {prebuffer_ms}")
        self._ring = np.zeros(max_ms * _SAMPLES_PER_MS, dtype=np.int16)
        self._prebuffer = prebuffer_ms * _SAMPLES_PER_MS
        # Input and output both run at real time, so a backlog (audio queued while a
        # translation session connected, a burst after a stall) would otherwise stay as a
        # permanent delay. Past catch_up_ms queued, silent frames at the head are skipped.
        self._catch_up = None if catch_up_ms is None else catch_up_ms * _SAMPLES_PER_MS
        self._start = 0
        self._size = 0
        self._playing = False
        # Pulls answered with nothing while audio sat below the prebuffer mark: a short
        # utterance that never reaches the mark still plays after prebuffer_ms instead of
        # waiting for the next one.
        self._waited = 0
        self.underruns = 0
        self.overrun_samples = 0
        self.samples_in = 0
        self.samples_out = 0
        self.skipped_samples = 0

    @property
    def buffered_ms(self) -> float:
        return self._size / _SAMPLES_PER_MS

    def push(self, pcm: bytes | np.ndarray) -> None:
        """Append samples, dropping the oldest ones when the buffer would exceed max_ms."""
        data = np.frombuffer(pcm, dtype=np.int16) if isinstance(pcm, bytes) else pcm.ravel()
        if data.dtype != np.int16:
            raise ValueError(f"expected int16 samples, got {data.dtype}")
        n = len(data)
        self.samples_in += n
        capacity = len(self._ring)
        if n >= capacity:
            self.overrun_samples += self._size + n - capacity
            self._ring[:] = data[n - capacity :]
            self._start = 0
            self._size = capacity
            return
        excess = self._size + n - capacity
        if excess > 0:
            self.overrun_samples += excess
            self._start = (self._start + excess) % capacity
            self._size -= excess
        end = (self._start + self._size) % capacity
        first = min(n, capacity - end)
        self._ring[end : end + first] = data[:first]
        self._ring[: n - first] = data[first:]
        self._size += n

    def pull(self, n: int) -> np.ndarray | None:
        """Return exactly n samples (zero-padded if short), or None when there is nothing to play."""
        if self._size == 0:
            self._playing = False
            self._waited = 0
            return None
        if not self._playing:
            if self._size < self._prebuffer and self._waited < self._prebuffer:
                self._waited += n
                return None
            self._playing = True
            self._waited = 0
        if self._catch_up is not None and self._size > self._catch_up + n:
            self._skip_silence(n)
        take = min(n, self._size)
        out = np.empty(n, dtype=np.int16) if take == n else np.zeros(n, dtype=np.int16)
        capacity = len(self._ring)
        first = min(take, capacity - self._start)
        out[:first] = self._ring[self._start : self._start + first]
        out[first:take] = self._ring[: take - first]
        self._start = (self._start + take) % capacity
        self._size -= take
        self.samples_out += take
        if take < n:
            self.underruns += 1
            self._playing = False
        return out

    def _skip_silence(self, n: int) -> None:
        capacity = len(self._ring)
        for _ in range(_MAX_SKIPS_PER_PULL):
            if self._size <= self._catch_up + n:  # type: ignore[operator]
                return
            first = min(n, capacity - self._start)
            for part in (self._ring[self._start : self._start + first], self._ring[: n - first]):
                if part.size and (part.max() > SILENCE_PEAK or part.min() < -SILENCE_PEAK):
                    return
            self._start = (self._start + n) % capacity
            self._size -= n
            self.skipped_samples += n

    def clear(self) -> None:
        """Drop everything queued; the counters keep their totals."""
        self._start = 0
        self._size = 0
        self._playing = False
        self._waited = 0
