"""Turn-taking for the fake `/v1/realtime` endpoint: server VAD and token counts, pure and testable.

The fake's voice activity detection is deliberately simple: audio is cut into 100 ms frames; a
frame at least `SPEECH_RMS` loud is speech (the session's `threshold` is accepted but not used);
a turn starts at the first speech frame and ends once `silence_duration_ms` of quiet frames
follow it. Each speech frame keeps its dominant frequency, which is what tone mode maps into the
target language when the turn is answered.

Token counts follow OpenAI's published rates closely enough to be plausible and exactly enough
to be asserted: user audio is 1 token per 100 ms, assistant audio 1 token per 50 ms, text 1
token per 4 characters. A response's input is the instructions plus every item still in the
conversation, so an interpreter that deletes old items keeps its input bounded. Nothing is cached.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field

import numpy as np

from media_workers.devtools import dsp

from .modes import SPEECH_RMS

VAD_FRAME_SAMPLES = dsp.SAMPLE_RATE // 10
VAD_FRAME_MS = 100
DEFAULT_SILENCE_MS = 500
# The API refuses to commit less than this much audio.
MIN_COMMIT_MS = 100


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def user_audio_tokens(ms: int) -> int:
    return math.ceil(ms / 100)


def assistant_audio_tokens(ms: int) -> int:
    return math.ceil(ms / 50)


@dataclass
class Turn:
    """One turn of the speaker: the dominant frequency of each 100 ms speech frame (None: quiet)."""

    start_ms: int
    tones: list[float | None] = field(default_factory=list)
    # The turn's audio, one 100 ms frame per entry of `tones` (echo and demo modes answer with it).
    frames: list[dsp.Pcm16] = field(default_factory=list)
    # The conversation item the turn becomes once committed.
    item_id: str = field(default_factory=lambda: f"item_{secrets.token_hex(8)}")

    @property
    def speech_ms(self) -> int:
        return sum(VAD_FRAME_MS for tone in self.tones if tone is not None)


@dataclass
class TurnEvent:
    """What the detector saw in one frame: a turn started (`started`) or ended (`ended`)."""

    kind: str
    audio_ms: int
    turn: Turn


class TurnDetector:
    """Server VAD: feeds of PCM16 in, turn starts and ends out."""

    def __init__(self, silence_ms: int = DEFAULT_SILENCE_MS) -> None:
        self.silence_ms = silence_ms
        self.audio_ms = 0
        self.current: Turn | None = None
        self._quiet_ms = 0
        self._pending = np.zeros(0, dtype=np.int16)

    @property
    def buffered_ms(self) -> int:
        """Audio since the turn started (what a manual commit would commit)."""
        return 0 if self.current is None else self.audio_ms - self.current.start_ms

    def feed(self, samples: dsp.Pcm16, *, detect: bool = True) -> list[TurnEvent]:
        """Run `samples` through the detector; with `detect` false (no turn detection) audio only buffers."""
        events: list[TurnEvent] = []
        pending = np.concatenate([self._pending, samples])
        whole = pending.size // VAD_FRAME_SAMPLES * VAD_FRAME_SAMPLES
        self._pending = pending[whole:]
        for start in range(0, whole, VAD_FRAME_SAMPLES):
            frame = pending[start : start + VAD_FRAME_SAMPLES]
            speech = dsp.rms(frame) >= SPEECH_RMS
            tone = dsp.dominant_frequency(frame) if speech else None
            if self.current is None and (speech or not detect):
                self.current = Turn(start_ms=self.audio_ms)
                if detect:
                    events.append(TurnEvent("started", self.audio_ms, self.current))
            self.audio_ms += VAD_FRAME_MS
            if self.current is None:
                continue
            self.current.tones.append(tone)
            self.current.frames.append(frame)
            self._quiet_ms = 0 if speech else self._quiet_ms + VAD_FRAME_MS
            if detect and self._quiet_ms >= self.silence_ms:
                turn, self.current = self.current, None
                # The silence that ended the turn is not part of it.
                kept = len(turn.tones) - self._quiet_ms // VAD_FRAME_MS
                del turn.tones[kept:], turn.frames[kept:]
                events.append(TurnEvent("ended", self.audio_ms - self._quiet_ms, turn))
                self._quiet_ms = 0
        return events

    def commit(self) -> Turn | None:
        """End the current turn now (a manual commit); None if less than MIN_COMMIT_MS is buffered."""
        if self.current is None or self.buffered_ms < MIN_COMMIT_MS:
            return None
        turn, self.current = self.current, None
        self._quiet_ms = 0
        return turn

    def clear(self) -> None:
        self.current = None
        self._quiet_ms = 0
        self._pending = np.zeros(0, dtype=np.int16)
