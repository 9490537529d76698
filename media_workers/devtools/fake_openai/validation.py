"""Checking client events as the real API does: an invalid one gets an `invalid_request_error`."""

from __future__ import annotations

from typing import Any

NOISE_REDUCTION_TYPES = ("near_field", "far_field")


class InvalidRequest(Exception):
    """A client event the real API would answer with an `invalid_request_error`."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param


def as_object(value: object, param: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidRequest("invalid_type", f"Invalid type for '{param}': expected an object.", param)
    return value


def reject_unknown(value: dict[str, Any], allowed: tuple[str, ...], prefix: str) -> None:
    for key in value:
        if key not in allowed:
            param = f"{prefix}.{key}"
            raise InvalidRequest("unknown_parameter", f"Unknown parameter: '{param}'.", param)


# --- /v1/realtime (the general voice models), from the SDK's RealtimeSessionCreateRequest ------

REALTIME_SESSION_KEYS = (
    "type",
    "audio",
    "include",
    "instructions",
    "max_output_tokens",
    "model",
    "output_modalities",
    "parallel_tool_calls",
    "prompt",
    "reasoning",
    "tool_choice",
    "tools",
    "tracing",
    "truncation",
)
AUDIO_FORMAT_TYPES = ("audio/pcm", "audio/pcmu", "audio/pcma")
SERVER_VAD_KEYS = (
    "type",
    "create_response",
    "idle_timeout_ms",
    "interrupt_response",
    "prefix_padding_ms",
    "silence_duration_ms",
    "threshold",
)
SEMANTIC_VAD_KEYS = ("type", "create_response", "eagerness", "interrupt_response")
TRANSCRIPTION_KEYS = ("model", "language", "prompt", "delay")


def _typed(value: object, kind: type | tuple[type, ...], param: str, what: str) -> None:
    if isinstance(value, bool) and kind is not bool:
        raise InvalidRequest("invalid_type", f"Invalid type for '{param}': expected {what}.", param)
    if not isinstance(value, kind):
        raise InvalidRequest("invalid_type", f"Invalid type for '{param}': expected {what}.", param)


def audio_format(value: object, param: str) -> dict[str, Any]:
    value = as_object(value, param)
    reject_unknown(value, ("type", "rate"), param)
    if value.get("type") not in AUDIO_FORMAT_TYPES:
        raise InvalidRequest(
            "invalid_value",
            f"Invalid value: {value.get('type')!r}. Supported values are: {', '.join(AUDIO_FORMAT_TYPES)}.",
            f"{param}.type",
        )
    if "rate" in value and (value["type"] != "audio/pcm" or value["rate"] != 24000):
        raise InvalidRequest(
            "invalid_value", f"Invalid value for '{param}.rate': only 24000 (audio/pcm).", param
        )
    return dict(value)


def turn_detection(value: object, param: str) -> dict[str, Any] | None:
    if value is None:
        return None
    value = as_object(value, param)
    kind = value.get("type")
    if kind == "server_vad":
        reject_unknown(value, SERVER_VAD_KEYS, param)
        for key in ("idle_timeout_ms", "prefix_padding_ms", "silence_duration_ms"):
            if key in value and value[key] is not None:
                _typed(value[key], int, f"{param}.{key}", "an integer")
        if value.get("threshold") is not None:
            _typed(value["threshold"], (int, float), f"{param}.threshold", "a number")
            if not 0 <= value["threshold"] <= 1:
                raise InvalidRequest(
                    "invalid_value", f"'{param}.threshold' must be between 0 and 1.", f"{param}.threshold"
                )
    elif kind == "semantic_vad":
        reject_unknown(value, SEMANTIC_VAD_KEYS, param)
    else:
        raise InvalidRequest(
            "invalid_value",
            f"Invalid value: {kind!r}. Supported values are: 'server_vad' and 'semantic_vad'.",
            f"{param}.type",
        )
    for key in ("create_response", "interrupt_response"):
        if key in value and value[key] is not None:
            _typed(value[key], bool, f"{param}.{key}", "a boolean")
    return dict(value)


def realtime_transcription(value: object, param: str) -> dict[str, Any] | None:
    if value is None:
        return None
    value = as_object(value, param)
    reject_unknown(value, TRANSCRIPTION_KEYS, param)
    if "model" in value:
        _typed(value["model"], str, f"{param}.model", "a string")
    return dict(value)


def realtime_session(session: object) -> dict[str, Any]:
    """A `session.update`'s session for `/v1/realtime`, checked; the parts the fake acts on, flattened.

    Returns only the keys given: instructions, output_modalities, input_format, transcription,
    noise_reduction (unchecked here: the session checks it), turn_detection, output_format, voice.
    """
    session = as_object(session, "session")
    reject_unknown(session, REALTIME_SESSION_KEYS, "session")
    if "type" not in session:
        raise InvalidRequest(
            "missing_required_parameter", "Missing required parameter: 'session.type'.", "session.type"
        )
    if session["type"] != "realtime":
        raise InvalidRequest(
            "invalid_value",
            f"Invalid value: {session['type']!r}. This endpoint takes sessions of type 'realtime'.",
            "session.type",
        )
    result: dict[str, Any] = {}
    if "instructions" in session:
        _typed(session["instructions"], str, "session.instructions", "a string")
        result["instructions"] = session["instructions"]
    if "output_modalities" in session:
        modalities = session["output_modalities"]
        _typed(modalities, list, "session.output_modalities", "an array")
        if len(modalities) != 1 or modalities[0] not in ("text", "audio"):
            raise InvalidRequest(
                "invalid_value",
                "'session.output_modalities' must be ['audio'] or ['text'].",
                "session.output_modalities",
            )
        result["output_modalities"] = list(modalities)
    audio = as_object(session.get("audio", {}), "session.audio")
    reject_unknown(audio, ("input", "output"), "session.audio")
    if "input" in audio:
        audio_input = as_object(audio["input"], "session.audio.input")
        param = "session.audio.input"
        reject_unknown(audio_input, ("format", "noise_reduction", "transcription", "turn_detection"), param)
        if "format" in audio_input:
            result["input_format"] = audio_format(audio_input["format"], f"{param}.format")
        if "transcription" in audio_input:
            result["transcription"] = realtime_transcription(
                audio_input["transcription"], f"{param}.transcription"
            )
        if "noise_reduction" in audio_input:
            result["noise_reduction"] = audio_input["noise_reduction"]
        if "turn_detection" in audio_input:
            result["turn_detection"] = turn_detection(
                audio_input["turn_detection"], f"{param}.turn_detection"
            )
    if "output" in audio:
        output = as_object(audio["output"], "session.audio.output")
        reject_unknown(output, ("format", "speed", "voice"), "session.audio.output")
        if "format" in output:
            result["output_format"] = audio_format(output["format"], "session.audio.output.format")
        if "voice" in output:
            voice = output["voice"]
            if isinstance(voice, dict):
                reject_unknown(voice, ("id",), "session.audio.output.voice")
                voice = voice.get("id")
            _typed(voice, str, "session.audio.output.voice", "a string or an object with an id")
            result["voice"] = voice
        if "speed" in output:
            _typed(output["speed"], (int, float), "session.audio.output.speed", "a number")
    return result
