from __future__ import annotations

import math

import numpy as np
import pytest

from media_workers.devtools import dsp


@pytest.mark.parametrize("freq", [110.0, 237.3, 400.0, 1234.5, 3000.0])
def test_it_finds_the_frequency_of_200_ms_of_a_pure_tone(freq: float) -> None:
    found = dsp.dominant_frequency(dsp.tone(freq, 0.2), dsp.SAMPLE_RATE)
    assert found == pytest.approx(freq, abs=5.0)


def test_it_hears_silence_and_faint_noise_as_no_frequency() -> None:
    rng = np.random.default_rng(1)
    faint = (rng.standard_normal(4800) * 20).astype(np.int16)
    assert dsp.dominant_frequency(np.zeros(4800, dtype=np.int16), dsp.SAMPLE_RATE) is None
    assert dsp.dominant_frequency(faint, dsp.SAMPLE_RATE) is None


def test_it_measures_level_and_band_energy() -> None:
    mix = dsp.tone(400.0, 0.2) + dsp.tone(900.0, 0.2, amplitude=0.1)
    assert dsp.rms(dsp.tone(400.0, 0.2)) == pytest.approx(0.3 * 32767 / math.sqrt(2), rel=0.01)
    assert dsp.rms(np.zeros(0, dtype=np.int16)) == 0.0
    assert dsp.band_energy(mix, dsp.SAMPLE_RATE, 400.0) == pytest.approx(0.9, abs=0.02)
    assert dsp.band_energy(mix, dsp.SAMPLE_RATE, 900.0) == pytest.approx(0.1, abs=0.02)
    assert dsp.band_energy(mix, dsp.SAMPLE_RATE, 650.0) < 0.001


def test_it_round_trips_little_endian_pcm16() -> None:
    samples = np.array([0, 1, -1, 32767, -32768], dtype=np.int16)
    data = dsp.array_to_pcm16(samples)
    assert data[:6] == b"\x00\x00\x01\x00\xff\xff"
    assert np.array_equal(dsp.pcm16_to_array(data), samples)


def test_it_generates_frames_that_join_without_a_discontinuity() -> None:
    generator = dsp.ToneGenerator(440.0, dsp.SAMPLE_RATE)
    frames = np.concatenate([generator.next(480) for _ in range(50)])
    whole = dsp.tone(440.0, 1.0)
    assert frames.size == whole.size
    assert np.max(np.abs(frames.astype(int) - whole.astype(int))) <= 1


def test_it_keeps_the_phase_when_the_frequency_changes() -> None:
    generator = dsp.ToneGenerator(400.0, dsp.SAMPLE_RATE)
    first = generator.next(4801)
    generator.freq = 600.0
    second = generator.next(4800)
    joined = np.concatenate([first, second]).astype(int)
    # The largest step a 600 Hz sine at this amplitude ever takes between two samples.
    max_step = 0.3 * 32767 * 2 * math.pi * 600.0 / dsp.SAMPLE_RATE
    assert np.max(np.abs(np.diff(joined))) <= max_step + 1
    assert dsp.dominant_frequency(second, dsp.SAMPLE_RATE) == pytest.approx(600.0, abs=5.0)


@pytest.mark.parametrize("factor", [1.35, 0.75])
def test_it_shifts_a_tones_pitch_by_the_factor_and_keeps_its_length(factor: float) -> None:
    source = dsp.tone(300.0, 1.0)
    shifted = dsp.pitch_shift(source, factor)
    settled = shifted[2400:]
    assert shifted.size == source.size
    assert dsp.band_energy(settled, dsp.SAMPLE_RATE, 300.0 * factor) > 0.9
    assert dsp.band_energy(settled, dsp.SAMPLE_RATE, 300.0) < 0.01
    assert dsp.dominant_frequency(settled, dsp.SAMPLE_RATE) == pytest.approx(300.0 * factor, rel=0.05)


def test_it_shifts_a_stream_in_chunks_exactly_as_in_one_piece() -> None:
    source = dsp.tone(250.0, 1.0)
    shifter = dsp.PitchShifter(1.35, dsp.SAMPLE_RATE)
    chunks = [shifter.process(chunk) for chunk in np.array_split(source, 37)]
    assert [chunk.size for chunk in chunks] == [chunk.size for chunk in np.array_split(source, 37)]
    # Equal up to float rounding of the sweep position: the delay line carries over intact.
    difference = np.concatenate(chunks).astype(int) - dsp.pitch_shift(source, 1.35).astype(int)
    assert np.max(np.abs(difference)) <= 2
