from __future__ import annotations

import numpy as np
import pytest

from media_workers.devtools.dsp import dominant_frequency, tone
from media_workers.runtime import opus
from media_workers.runtime.audio import FRAME_SAMPLES, SAMPLE_RATE


def _packets(samples: np.ndarray, frame_samples: int = FRAME_SAMPLES) -> list[bytes]:
    encoder = opus.Encoder()
    return [encoder.encode(samples[i : i + frame_samples]) for i in range(0, len(samples), frame_samples)]


def test_it_finds_libopus() -> None:
    assert opus.version().startswith("libopus")


def test_a_voice_goes_through_at_24khz_mono() -> None:
    packets = _packets(tone(700, 1.0))
    decoder = opus.Decoder()

    decoded = [decoder.decode(p) for p in packets]

    assert {len(pcm) for pcm in decoded} == {FRAME_SAMPLES * 2}
    samples = np.frombuffer(b"".join(decoded), dtype=np.int16)
    assert dominant_frequency(samples[SAMPLE_RATE // 10 :]) == pytest.approx(700, abs=10)
    # A voice bitrate: 32 kbit/s is 80 bytes per 20 ms, give or take the encoder's choices.
    assert sum(map(len, packets)) / len(packets) < 120


def test_it_encodes_and_decodes_40ms_frames() -> None:
    packets = _packets(tone(500, 0.4), frame_samples=2 * FRAME_SAMPLES)
    decoder = opus.Decoder()

    assert {len(decoder.decode(p)) for p in packets} == {4 * FRAME_SAMPLES}


def test_a_lost_frame_is_recovered_from_the_next_packets_fec_or_concealed() -> None:
    packets = _packets(tone(600, 0.5))
    decoder = opus.Decoder()
    for packet in packets[:10]:
        decoder.decode(packet)

    recovered = decoder.conceal(packets[11])
    concealed = decoder.conceal()

    assert len(recovered) == len(concealed) == FRAME_SAMPLES * 2
    assert np.abs(np.frombuffer(recovered, dtype=np.int16)).max() > 1000


def test_a_corrupt_packet_is_an_error() -> None:
    with pytest.raises(opus.OpusError):
        opus.Decoder().decode(b"\xff\xff\xff")


def test_it_refuses_float_samples() -> None:
    with pytest.raises(ValueError, match="int16"):
        opus.Encoder().encode(np.zeros(FRAME_SAMPLES, dtype=np.float32))


def test_the_silence_packet_decodes_to_zeros_after_a_voice() -> None:
    packets = _packets(tone(600, 0.4))
    decoder = opus.Decoder()
    for packet in packets:
        decoder.decode(packet)
    for _ in range(3):
        decoder.decode(opus.silence(FRAME_SAMPLES))

    assert len(opus.silence(FRAME_SAMPLES)) <= 3
    assert not np.frombuffer(decoder.decode(opus.silence(FRAME_SAMPLES)), dtype=np.int16).any()
    assert len(decoder.decode(opus.silence(2 * FRAME_SAMPLES))) == 4 * FRAME_SAMPLES
