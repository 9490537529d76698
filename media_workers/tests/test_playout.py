from __future__ import annotations

import numpy as np
import pytest

from media_workers.runtime.playout import PlayoutBuffer


def _ramp(start: int, count: int) -> np.ndarray:
    return np.arange(start, start + count, dtype=np.int16)


def _pull(buffer: PlayoutBuffer, n: int) -> np.ndarray:
    samples = buffer.pull(n)
    assert samples is not None
    assert samples.dtype == np.int16
    assert len(samples) == n
    return samples


def test_it_plays_samples_in_the_order_they_came() -> None:
    buffer = PlayoutBuffer(max_ms=100)
    buffer.push(_ramp(0, 300))
    buffer.push(_ramp(300, 300).tobytes())

    assert buffer.buffered_ms == 25
    np.testing.assert_array_equal(_pull(buffer, 480), _ramp(0, 480))
    assert buffer.samples_in == 600
    assert buffer.samples_out == 480


def test_it_keeps_order_across_the_ring_boundary() -> None:
    buffer = PlayoutBuffer(max_ms=60)
    expected = _ramp(0, 5000)
    pushed = 0
    pulled = []
    # Uneven pushes and pulls wrap the 1440-sample ring many times without ever overflowing it.
    while pushed < len(expected):
        buffer.push(expected[pushed : pushed + 700])
        pushed += 700
        while buffer.buffered_ms >= 20:
            pulled.append(_pull(buffer, 480))

    np.testing.assert_array_equal(np.concatenate(pulled), expected[: len(pulled) * 480])
    assert buffer.overrun_samples == 0
    assert buffer.underruns == 0


def test_it_pads_a_short_pull_with_zeros_and_counts_an_underrun() -> None:
    buffer = PlayoutBuffer(max_ms=100)
    buffer.push(_ramp(1, 100))

    samples = _pull(buffer, 480)

    np.testing.assert_array_equal(samples[:100], _ramp(1, 100))
    assert not samples[100:].any()
    assert buffer.underruns == 1
    assert buffer.samples_out == 100


def test_it_returns_none_when_empty_without_counting_an_underrun() -> None:
    buffer = PlayoutBuffer(max_ms=100)
    assert buffer.pull(480) is None

    buffer.push(_ramp(0, 480))
    _pull(buffer, 480)

    assert buffer.pull(480) is None
    assert buffer.underruns == 0


def test_it_drops_the_oldest_audio_when_full() -> None:
    buffer = PlayoutBuffer(max_ms=40)
    buffer.push(_ramp(0, 600))
    buffer.push(_ramp(600, 600))

    assert buffer.buffered_ms == 40
    assert buffer.overrun_samples == 240
    np.testing.assert_array_equal(_pull(buffer, 960), _ramp(240, 960))


def test_it_keeps_only_the_newest_audio_of_an_oversized_push() -> None:
    buffer = PlayoutBuffer(max_ms=40)
    buffer.push(_ramp(0, 100))
    buffer.push(_ramp(100, 2000))

    assert buffer.overrun_samples == 1140
    assert buffer.samples_in == 2100
    np.testing.assert_array_equal(_pull(buffer, 960), _ramp(1140, 960))


def test_it_waits_for_the_prebuffer_before_playing() -> None:
    buffer = PlayoutBuffer(max_ms=200, prebuffer_ms=60)
    buffer.push(_ramp(0, 960))

    assert buffer.pull(480) is None
    buffer.push(_ramp(960, 480))
    np.testing.assert_array_equal(_pull(buffer, 480), _ramp(0, 480))
    # Once playing it drains below the mark without waiting again.
    np.testing.assert_array_equal(_pull(buffer, 480), _ramp(480, 480))
    np.testing.assert_array_equal(_pull(buffer, 480), _ramp(960, 480))


def test_it_waits_for_the_prebuffer_again_after_running_dry() -> None:
    buffer = PlayoutBuffer(max_ms=200, prebuffer_ms=40)
    buffer.push(_ramp(0, 960))
    _pull(buffer, 480)
    _pull(buffer, 480)
    assert buffer.pull(480) is None

    buffer.push(_ramp(960, 480))

    assert buffer.pull(480) is None
    buffer.push(_ramp(1440, 480))
    np.testing.assert_array_equal(_pull(buffer, 480), _ramp(960, 480))


def test_it_plays_a_short_burst_once_it_has_waited_the_prebuffer() -> None:
    buffer = PlayoutBuffer(max_ms=200, prebuffer_ms=40)
    buffer.push(_ramp(0, 240))

    assert buffer.pull(480) is None
    assert buffer.pull(480) is None
    samples = _pull(buffer, 480)

    np.testing.assert_array_equal(samples[:240], _ramp(0, 240))
    assert buffer.buffered_ms == 0


def test_it_clears_but_keeps_its_counters() -> None:
    buffer = PlayoutBuffer(max_ms=100)
    buffer.push(_ramp(0, 1000))
    _pull(buffer, 480)

    buffer.clear()

    assert buffer.buffered_ms == 0
    assert buffer.pull(480) is None
    assert buffer.samples_in == 1000
    assert buffer.samples_out == 480
    buffer.push(_ramp(5, 480))
    np.testing.assert_array_equal(_pull(buffer, 480), _ramp(5, 480))


@pytest.mark.parametrize(("max_ms", "prebuffer_ms"), [(0, 0), (100, -1), (100, 200)])
def test_it_refuses_impossible_sizes(max_ms: int, prebuffer_ms: int) -> None:
    with pytest.raises(ValueError):
        PlayoutBuffer(max_ms=max_ms, prebuffer_ms=prebuffer_ms)


def test_it_refuses_samples_that_are_not_int16() -> None:
    with pytest.raises(ValueError, match="int16"):
        PlayoutBuffer(max_ms=100).push(np.zeros(10, dtype=np.float64))


def test_it_skips_silence_at_the_head_once_behind() -> None:
    buffer = PlayoutBuffer(max_ms=1000, catch_up_ms=40)
    buffer.push(np.zeros(480 * 5, dtype=np.int16))
    buffer.push(np.full(480, 1000, dtype=np.int16))
    # 120 ms queued, 40 allowed: silent frames go until 40 ms + the frame being pulled remain.
    assert (_pull(buffer, 480) == 0).all()
    assert buffer.skipped_samples == 480 * 3
    assert (_pull(buffer, 480) == 0).all()
    assert (_pull(buffer, 480) == 1000).all()
    assert buffer.skipped_samples == 480 * 3


def test_it_never_skips_sound_to_catch_up() -> None:
    buffer = PlayoutBuffer(max_ms=1000, catch_up_ms=20)
    buffer.push(np.full(480 * 6, 1000, dtype=np.int16))
    for _ in range(6):
        assert (_pull(buffer, 480) == 1000).all()
    assert buffer.skipped_samples == 0


def test_it_does_not_skip_without_catch_up() -> None:
    buffer = PlayoutBuffer(max_ms=1000)
    buffer.push(np.zeros(480 * 10, dtype=np.int16))
    for _ in range(10):
        _pull(buffer, 480)
    assert buffer.skipped_samples == 0
