"""The fake server's modes: what a session sends back for the audio it is sent."""

from __future__ import annotations

from typing import Literal, get_args

from media_workers.devtools import dsp

Mode = Literal["tone", "echo", "framed", "demo"]
MODES: tuple[str, ...] = get_args(Mode)

# Tone mode's "translation": at least 0.1 apart and at least 0.1 away from 1.0, so a frequency
# measurement tells the languages apart and the translation apart from the original voice.
TONE_FACTORS: dict[str, float] = {
    "id": 0.5,
    "ru": 0.6,
    "fr": 0.7,
    "de": 0.8,
    "pt": 0.9,
    "it": 1.15,
    "en": 1.25,
    "vi": 1.35,
    "es": 1.5,
    "ja": 1.6,
    "zh": 1.7,
    "ko": 1.8,
    "hi": 1.9,
    # The languages the interpreter (`/v1/realtime`) speaks, turn by turn.
    "ar": 0.4,
    "tr": 2.0,
    "pl": 2.1,
    "uk": 2.2,
    "nl": 2.3,
    "sv": 2.4,
    "el": 2.5,
    "cs": 2.6,
    "ro": 2.7,
    "he": 2.8,
    "fa": 2.9,
    "ur": 3.0,
    "bn": 3.1,
    "th": 3.2,
    "tl": 3.3,
    "sw": 3.4,
}

FRAME_SAMPLES = dsp.SAMPLE_RATE // 5
FRAME_BYTES = FRAME_SAMPLES * 2
DEMO_DELAY_MS = 1000
DEMO_PITCH_FACTOR = 1.35
# Demo captions: a frame this loud is speech; this many quiet frames (600 ms) end the utterance.
SPEECH_RMS = 600.0
SPEECH_HANGOVER_FRAMES = 3
DEMO_TRANSCRIPT = "(demo translation to {language} — real translation needs an OPENAI_API_KEY) "
DEMO_INPUT_TRANSCRIPT = "(your speech: demo mode does not transcribe) "
ECHO_TRANSCRIPT_INTERVAL_S = 1.0
