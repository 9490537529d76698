"""A stand-in for OpenAI's Realtime Translation API, for demo mode and tests.

server.py serves the protocol and the fault controls (`/_fake/...`), modes.py says what each mode
sends back, validation.py refuses what the real API refuses.
"""

from .modes import DEMO_PITCH_FACTOR, MODES, TONE_FACTORS
from .server import SESSION_LIFETIME_S, FakeOpenAIServer, is_loopback

__all__ = [
    "DEMO_PITCH_FACTOR",
    "MODES",
    "SESSION_LIFETIME_S",
    "TONE_FACTORS",
    "FakeOpenAIServer",
    "is_loopback",
]
