"""The signalling protocol between a room page and the server: parsing, validation and limits.

Every message is a JSON object with a `type`; `docs/signalling.md` is the reference.
Anything that does not fit raises `SignalError`, which the consumer turns into an `error`
reply while the connection and the call go on.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from .languages import LISTENER_LANGUAGES

MAX_SDP_BYTES = 32 * 1024
MAX_CANDIDATE_BYTES = 1024


class SignalError(Exception):
    """A message the server refuses, with a code for programs and a sentence for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse(text: str | None, *, max_bytes: int) -> dict[str, Any]:
    if text is None:
        raise SignalError("bad_message", "Messages must be JSON text, not binary.")
    if len(text.encode()) > max_bytes:
        raise SignalError("too_large", f"Messages may be at most {max_bytes} bytes.")
    try:
        message = json.loads(text)
    except ValueError:
        raise SignalError("bad_json", "That message is not valid JSON.") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise SignalError("bad_message", "A message must be a JSON object with a string `type`.")
    validator = VALIDATORS.get(message["type"])
    if validator is None:
        raise SignalError("unknown_type", f"Unknown message type {message['type'][:40]!r}.")
    return validator(message)


def _offer(message: dict[str, Any]) -> dict[str, Any]:
    sdp = message.get("sdp")
    if not isinstance(sdp, str) or not sdp.startswith("v=0"):
        raise SignalError("bad_sdp", "An offer needs `sdp`, a session description starting with v=0.")
    if len(sdp.encode()) > MAX_SDP_BYTES:
        raise SignalError("too_large", f"A session description may be at most {MAX_SDP_BYTES} bytes.")
    if "m=audio" not in sdp:
        raise SignalError("bad_sdp", "The offer has no audio section.")
    return {"type": "offer", "sdp": sdp}


def _candidate(message: dict[str, Any]) -> dict[str, Any]:
    candidate = message.get("candidate")
    if candidate is None:
        return {"type": "candidate", "candidate": None}
    if not isinstance(candidate, dict):
        raise SignalError("bad_candidate", "`candidate` must be an object or null.")
    text = candidate.get("candidate")
    mid = candidate.get("sdpMid")
    index = candidate.get("sdpMLineIndex")
    if not isinstance(text, str) or len(text) > MAX_CANDIDATE_BYTES:
        raise SignalError("bad_candidate", "`candidate.candidate` must be a short string.")
    if text and not text.startswith("candidate:"):
        raise SignalError("bad_candidate", "`candidate.candidate` must start with `candidate:`.")
    if mid is not None and (not isinstance(mid, str) or len(mid) > 32):
        raise SignalError("bad_candidate", "`candidate.sdpMid` must be a short string or null.")
    if index is not None and (not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 16):
        raise SignalError("bad_candidate", "`candidate.sdpMLineIndex` must be a small integer or null.")
    return {"type": "candidate", "candidate": {"candidate": text, "sdpMid": mid, "sdpMLineIndex": index}}


def _mute(message: dict[str, Any]) -> dict[str, Any]:
    muted = message.get("muted")
    if not isinstance(muted, bool):
        raise SignalError("bad_value", "`muted` must be true or false.")
    return {"type": "mute", "muted": muted}


def _presence(message: dict[str, Any]) -> dict[str, Any]:
    background = message.get("background")
    if not isinstance(background, bool):
        raise SignalError("bad_value", "`background` must be true or false.")
    return {"type": "presence", "background": background}


def _volume(message: dict[str, Any], name: str) -> float | None:
    value = message.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SignalError("bad_value", f"`{name}` must be a number from 0 to 1.")
    if not 0 <= value <= 1:
        raise SignalError("bad_value", f"`{name}` must be a number from 0 to 1.")
    return float(value)


def _settings(message: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"type": "settings"}
    language = message.get("hear_language")
    if language is not None:
        if not isinstance(language, str) or language not in LISTENER_LANGUAGES:
            raise SignalError(
                "bad_language", "`hear_language` must be one of: " + ", ".join(LISTENER_LANGUAGES)
            )
        result["hear_language"] = language
    for name in ("original_volume", "translation_volume"):
        volume = _volume(message, name)
        if volume is not None:
            result[name] = volume
    if len(result) == 1:
        raise SignalError(
            "bad_value", "`settings` needs hear_language, original_volume or translation_volume."
        )
    return result


def _simple(kind: str) -> Any:
    def validate(message: dict[str, Any]) -> dict[str, Any]:
        return {"type": kind}

    return validate


VALIDATORS = {
    "offer": _offer,
    "candidate": _candidate,
    "mute": _mute,
    "presence": _presence,
    "settings": _settings,
    "leave": _simple("leave"),
    "ping": _simple("ping"),
    "renew_ice_servers": _simple("renew_ice_servers"),
}


class TokenBucket:
    """Allows `burst` messages at once and `rate` a second after that."""

    def __init__(self, *, rate: float, burst: int) -> None:
        self.rate = rate
        self.capacity = float(burst)
        self.tokens = float(burst)
        self.updated = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False
