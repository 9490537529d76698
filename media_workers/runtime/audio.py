"""The worker's one audio format (PCM16 mono 24 kHz) and conversions to and from av frames."""

from __future__ import annotations

import asyncio
import fractions
import time

import av
import numpy as np

SAMPLE_RATE = 24000
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
BYTES_PER_SAMPLE = 2
TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)


def _frame_bytes(frame: av.AudioFrame) -> bytes:
    # FFmpeg pads plane buffers for alignment (464 samples come in a 1024-byte plane),
    # so only the first samples * 2 bytes are audio.
    return memoryview(frame.planes[0])[: frame.samples * BYTES_PER_SAMPLE].tobytes()


class InboundResampler:
    """Turns the frames aiortc decodes from a remote track into PCM16 mono 24 kHz bytes."""

    def __init__(self) -> None:
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)

    def __call__(self, frame: av.AudioFrame) -> bytes:
        # The filter graph keeps a few samples back (the first 48 kHz frame yields 464, not
        # 480), so the output length varies and may be empty.
        out = self._resampler.resample(frame)
        if len(out) == 1:
            return _frame_bytes(out[0])
        return b"".join(_frame_bytes(f) for f in out)

    def flush(self) -> bytes:
        """Return the samples still held back; the resampler accepts no frames afterwards."""
        return b"".join(_frame_bytes(f) for f in self._resampler.resample(None))


def pcm_to_frame(pcm: bytes | np.ndarray, pts: int) -> av.AudioFrame:
    """Wrap PCM16 mono 24 kHz samples in an av.AudioFrame stamped with pts (in samples)."""
    data = np.frombuffer(pcm, dtype=np.int16) if isinstance(pcm, bytes) else pcm
    if data.dtype != np.int16:
        raise ValueError(f"expected int16 samples, got {data.dtype}")
    frame = av.AudioFrame(format="s16", layout="mono", samples=len(data))
    # PyAV's stub says bytes, but update() takes any buffer (its docstring names NumPy
    # arrays); handing over the array avoids a copy into a temporary bytes object.
    frame.planes[0].update(data)  # type: ignore[arg-type]
    frame.sample_rate = SAMPLE_RATE
    frame.time_base = TIME_BASE
    frame.pts = pts
    return frame


class ChunkAccumulator:
    """Collects PCM16 bytes and hands them back in complete chunks of chunk_ms."""

    def __init__(self, chunk_ms: int) -> None:
        if chunk_ms <= 0:
            raise ValueError(f"chunk_ms must be positive, got {chunk_ms}")
        self.chunk_bytes = SAMPLE_RATE * chunk_ms // 1000 * BYTES_PER_SAMPLE
        self._pending = bytearray()

    def push(self, pcm: bytes) -> list[bytes]:
        """Append pcm and return every chunk now complete; less than one chunk stays pending."""
        self._pending += pcm
        size = self.chunk_bytes
        count = len(self._pending) // size
        if count == 0:
            return []
        view = memoryview(self._pending)
        chunks = [view[i * size : (i + 1) * size].tobytes() for i in range(count)]
        view.release()
        del self._pending[: count * size]
        return chunks


class FrameClock:
    """Paces frames of frame_ms in real time for a track's `recv()`.

    Frame n is due at start + n x frame_ms, not a fixed sleep after the previous one, so
    scheduling jitter never accumulates into drift (as aiortc's own tracks do).
    """

    def __init__(self, frame_ms: int = FRAME_MS) -> None:
        self.frame_ms = frame_ms
        self.frame_samples = SAMPLE_RATE * frame_ms // 1000
        self._start: float | None = None
        self._pts = 0
        # Frames asked for more than a frame's length after they were due (an overloaded loop).
        self.late_frames = 0

    async def next_frame(self) -> int:
        """Wait until the next frame is due; returns its pts (in samples at SAMPLE_RATE)."""
        if self._start is None:
            self._start = time.monotonic()
            return self._pts
        self._pts += self.frame_samples
        wait = self._start + self._pts / SAMPLE_RATE - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        elif wait < -self.frame_ms / 1000:
            self.late_frames += 1
        return self._pts
