from __future__ import annotations

import fractions

import av
import numpy as np
import pytest
from aiortc.codecs.opus import OpusDecoder, OpusEncoder
from aiortc.jitterbuffer import JitterFrame

from media_workers.devtools.dsp import dominant_frequency, tone
from media_workers.runtime.audio import (
    FRAME_SAMPLES,
    SAMPLE_RATE,
    ChunkAccumulator,
    InboundResampler,
    pcm_to_frame,
)


def _stereo_48k_frames(freq: float, count: int) -> list[av.AudioFrame]:
    """Frames shaped like the ones aiortc's Opus decoder yields: packed s16 stereo, 960 samples."""
    mono = tone(freq, count * 0.02, sample_rate=48000)
    frames = []
    for i in range(count):
        chunk = mono[i * 960 : (i + 1) * 960]
        interleaved = np.repeat(chunk, 2).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(interleaved, format="s16", layout="stereo")
        frame.sample_rate = 48000
        frame.time_base = fractions.Fraction(1, 48000)
        frame.pts = i * 960
        frames.append(frame)
    return frames


def test_it_resamples_48k_stereo_to_24k_mono() -> None:
    resampler = InboundResampler()
    outputs = [resampler(frame) for frame in _stereo_48k_frames(1000, 50)]
    tail = resampler.flush()

    lengths = [len(pcm) // 2 for pcm in outputs]
    # The filter holds a few samples back at first; after that every frame gives 20 ms.
    assert 440 <= lengths[0] <= 480
    assert set(lengths[1:]) == {FRAME_SAMPLES}
    assert sum(lengths) + len(tail) // 2 == 50 * FRAME_SAMPLES

    samples = np.frombuffer(b"".join(outputs), dtype=np.int16)
    frequency = dominant_frequency(samples[FRAME_SAMPLES:])
    assert frequency == pytest.approx(1000, abs=5)


def test_it_resamples_what_aiortcs_opus_decoder_yields() -> None:
    encoder, decoder = OpusEncoder(), OpusDecoder()
    source = tone(1000, 1.0)
    decoded: list[av.AudioFrame] = []
    for i in range(0, len(source), FRAME_SAMPLES):
        payloads, timestamp = encoder.encode(pcm_to_frame(source[i : i + FRAME_SAMPLES], i))
        for payload in payloads:
            for frame in decoder.decode(JitterFrame(data=payload, timestamp=timestamp)):
                assert isinstance(frame, av.AudioFrame)
                decoded.append(frame)

    assert {(f.format.name, f.layout.name, f.sample_rate, f.samples) for f in decoded} == {
        ("s16", "stereo", 48000, 960)
    }
    resampler = InboundResampler()
    samples = np.frombuffer(b"".join(resampler(f) for f in decoded), dtype=np.int16)
    assert len(samples) == pytest.approx(len(decoded) * FRAME_SAMPLES, abs=FRAME_SAMPLES)
    frequency = dominant_frequency(samples[len(samples) // 4 :])
    assert frequency == pytest.approx(1000, abs=5)


def test_it_builds_a_24k_mono_frame_from_bytes_and_arrays() -> None:
    samples = np.arange(-240, 240, dtype=np.int16) * 100

    for pcm in (samples, samples.tobytes()):
        frame = pcm_to_frame(pcm, pts=960)

        assert frame.format.name == "s16"
        assert frame.layout.name == "mono"
        assert frame.sample_rate == SAMPLE_RATE
        assert frame.time_base == fractions.Fraction(1, SAMPLE_RATE)
        assert frame.pts == 960
        assert frame.samples == 480
        np.testing.assert_array_equal(frame.to_ndarray()[0], samples)


def test_it_refuses_samples_that_are_not_int16() -> None:
    with pytest.raises(ValueError, match="int16"):
        pcm_to_frame(np.zeros(480, dtype=np.float32), pts=0)


def test_it_hands_back_complete_chunks_in_order() -> None:
    accumulator = ChunkAccumulator(chunk_ms=100)
    assert accumulator.chunk_bytes == 4800
    stream = bytes(range(256)) * 80

    assert accumulator.push(stream[:3000]) == []
    first = accumulator.push(stream[3000:6000])
    rest = accumulator.push(stream[6000:15360])

    assert [len(c) for c in first] == [4800]
    assert [len(c) for c in rest] == [4800, 4800]
    assert b"".join(first + rest) == stream[: 3 * 4800]
    assert accumulator.push(stream[15360:19200]) == [stream[3 * 4800 : 4 * 4800]]


def test_it_refuses_an_empty_chunk_length() -> None:
    with pytest.raises(ValueError):
        ChunkAccumulator(chunk_ms=0)
