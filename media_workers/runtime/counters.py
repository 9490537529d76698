"""The media worker's counters: at the bottom, so the audio path counts without importing anything above.

The audio path increments nothing of Prometheus: frame and playout counts are plain
integers the peers, tracks and playout buffers keep anyway, summed when scraped (metrics.py).
When a participant or buffer goes away its totals move to `RETIRED`, so every counter only grows.
Rare events (OpenAI errors, reconnects, the first translated audio) are counted directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import Counter, Histogram

if TYPE_CHECKING:
    from media_workers.runtime.playout import PlayoutBuffer

OPENAI_ERRORS = Counter(
    "translate_worker_openai_errors",
    "Error events from the translation service.",
    registry=None,
)
OPENAI_RECONNECTS = Counter(
    "translate_worker_openai_reconnects",
    "Translation sessions reconnected after a failed or dropped connection.",
    registry=None,
)
OPENAI_ROTATIONS = Counter(
    "translate_worker_openai_rotations",
    "Translation sessions handed over to a successor before they expired.",
    registry=None,
)
FIRST_TRANSLATED_AUDIO = Histogram(
    "translate_worker_first_translated_audio_seconds",
    "From a translation session's start to its first translated audio.",
    buckets=(0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0),
    registry=None,
)


@dataclass
class Retired:
    """Totals of participants and playout buffers that are gone."""

    frames_in: int = 0
    frames_out: int = 0
    frames_late: int = 0
    underruns: int = 0
    overrun_samples: int = 0


RETIRED = Retired()


def retire_buffer(buffer: PlayoutBuffer) -> None:
    RETIRED.underruns += buffer.underruns
    RETIRED.overrun_samples += buffer.overrun_samples


def retire_peer(
    *, frames_in: int, frames_out: int, frames_late: int, buffers: Iterable[PlayoutBuffer]
) -> None:
    """Called once, when a participant closes (after its track stopped counting)."""
    RETIRED.frames_in += frames_in
    RETIRED.frames_out += frames_out
    RETIRED.frames_late += frames_late
    for buffer in buffers:
        retire_buffer(buffer)
