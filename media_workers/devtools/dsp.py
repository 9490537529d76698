"""Small numpy audio helpers shared by the fake translator, the call client and the tests.

Audio is PCM16 mono at 24 kHz everywhere, the format OpenAI's Realtime Translation speaks.
Levels (`rms`, thresholds) are in raw int16 units, full scale 32767.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 24000
# About -50 dBFS: quieter than any microphone that is actually picking up a voice.
SILENCE_RMS = 100.0

Pcm16 = npt.NDArray[np.int16]


def pcm16_to_array(data: bytes) -> Pcm16:
    """Little-endian PCM16 bytes to an int16 array (a copy, safe to modify)."""
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


def array_to_pcm16(samples: npt.NDArray[Any]) -> bytes:
    """An int16 array (or anything that converts to it) to little-endian PCM16 bytes."""
    return np.asarray(samples, dtype="<i2").tobytes()


def rms(samples: npt.NDArray[Any]) -> float:
    """Root mean square level, in the samples' own units; 0.0 for an empty array."""
    if samples.size == 0:
        return 0.0
    values = samples.astype(np.float64)
    return float(np.sqrt(np.mean(values * values)))


def _to_int16(values: npt.NDArray[np.float64]) -> Pcm16:
    return np.clip(np.rint(values), -32768, 32767).astype(np.int16)


class ToneGenerator:
    """A sine oscillator that stays phase-continuous across calls, so frames join without clicks."""

    def __init__(
        self,
        freq: float,
        sample_rate: int = SAMPLE_RATE,
        amplitude: float = 0.3,
        phase: float = 0.0,
    ) -> None:
        self.freq = freq
        self.sample_rate = sample_rate
        self.amplitude = amplitude
        self._phase = phase

    def next(self, n_samples: int) -> Pcm16:
        """The next `n_samples` of the tone at the current frequency."""
        step = 2.0 * math.pi * self.freq / self.sample_rate
        phases = self._phase + step * np.arange(n_samples, dtype=np.float64)
        # Keep the accumulator small so float precision does not degrade over hours of audio.
        self._phase = (self._phase + step * n_samples) % (2.0 * math.pi)
        return _to_int16(self.amplitude * 32767.0 * np.sin(phases))


def tone(
    freq_hz: float,
    duration_s: float,
    sample_rate: int = SAMPLE_RATE,
    amplitude: float = 0.3,
    phase: float = 0.0,
) -> Pcm16:
    """A pure tone of the given length as int16 samples."""
    generator = ToneGenerator(freq_hz, sample_rate, amplitude, phase)
    return generator.next(round(duration_s * sample_rate))


def _windowed_spectrum(samples: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    values = samples.astype(np.float64)
    values = values - values.mean()
    return np.abs(np.fft.rfft(values * np.hanning(values.size)))


def dominant_frequency(
    samples: npt.NDArray[Any],
    sample_rate: int = SAMPLE_RATE,
    min_rms: float = SILENCE_RMS,
) -> float | None:
    """The strongest frequency in Hz, or None when the signal is quieter than `min_rms`."""
    if samples.size < 4 or rms(samples) < min_rms:
        return None
    spectrum = _windowed_spectrum(samples)
    peak = int(np.argmax(spectrum[1:])) + 1
    offset = 0.0
    if peak < spectrum.size - 1:
        # A parabola through the log magnitudes of the peak bin and its neighbours is nearly
        # exact for a Hann window's main lobe, which gets well under a bin's width.
        left, centre, right = np.log(spectrum[peak - 1 : peak + 2] + 1e-12)
        denominator = left - 2.0 * centre + right
        if denominator < 0.0:
            offset = 0.5 * float(left - right) / float(denominator)
    return (peak + offset) * sample_rate / samples.size


def band_energy(
    samples: npt.NDArray[Any],
    sample_rate: int,
    freq: float,
    width_hz: float = 30.0,
) -> float:
    """The share (0..1) of the signal's energy within `width_hz` of `freq`."""
    if samples.size < 4:
        return 0.0
    power = _windowed_spectrum(samples) ** 2
    total = float(power.sum())
    if total == 0.0:
        return 0.0
    bins = np.fft.rfftfreq(samples.size, d=1.0 / sample_rate)
    return float(power[np.abs(bins - freq) <= width_hz].sum()) / total


class PitchShifter:
    """A streaming pitch shifter that keeps duration: every chunk in gives a chunk of the same length out.

    Two read taps sweep a short delay line at `factor` times the write speed, half a window
    apart, each faded in and out with a Hann curve so that a tap jumps back only while it is
    silent. The delay line carries over between chunks, so chunk boundaries are seamless.
    """

    def __init__(self, factor: float, sample_rate: int = SAMPLE_RATE, window_ms: float = 50.0) -> None:
        self.factor = factor
        self._window = max(4, round(sample_rate * window_ms / 1000.0))
        self._history = np.zeros(self._window + 2, dtype=np.float64)
        self._phase = 0.0

    def process(self, chunk: npt.NDArray[Any]) -> Pcm16:
        """Shift one chunk; the result has exactly as many samples as `chunk`."""
        count = chunk.size
        buffer = np.concatenate([self._history, chunk.astype(np.float64)])
        start = self._history.size
        index = np.arange(count, dtype=np.float64)
        phase = (self._phase + index * (1.0 - self.factor) / self._window) % 1.0
        out = np.zeros(count, dtype=np.float64)
        for offset in (0.0, 0.5):
            tap = (phase + offset) % 1.0
            position = start + index - tap * self._window
            lower = np.floor(position).astype(np.int64)
            fraction = position - lower
            upper = np.minimum(lower + 1, buffer.size - 1)
            sample = buffer[lower] * (1.0 - fraction) + buffer[upper] * fraction
            out += sample * np.sin(np.pi * tap) ** 2
        self._phase = (self._phase + count * (1.0 - self.factor) / self._window) % 1.0
        self._history = buffer[-(self._window + 2) :]
        return _to_int16(out)


def pitch_shift(samples: npt.NDArray[Any], factor: float, sample_rate: int = SAMPLE_RATE) -> Pcm16:
    """Shift a whole clip's pitch by `factor`, keeping its length."""
    return PitchShifter(factor, sample_rate).process(samples)
