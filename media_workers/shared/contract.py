"""The contract between the web tier and the media worker, said once.

Everything that crosses between the two processes is defined here, typed: the channel-layer
messages in both directions, the participant info inside them, the room group's name, the usage
report with its Celery task name, and the language table. Both tiers (and the fake OpenAI
server) import this module; it imports nothing heavier than the standard library, so the web
process never loads the media stack for a string.

Every message is a dataclass with a `TYPE`. `message.to_dict()` is what goes on the channel
layer; `parse(raw)` turns what came off it back into the dataclass, and raises `ContractError`
for an unknown type, a missing or unexpected key, or a value of the wrong type, so a message
that does not fit fails loudly (in tests, at the sender's first run) instead of being filled
with `None` on the other side.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, Union

# --- Names -----------------------------------------------------------------------------------

# Code -> native name: the output languages of gpt-realtime-translate, in the order shown to
# people. The web tier offers these; the fake OpenAI server accepts exactly these.
OUTPUT_LANGUAGES: dict[str, str] = {
    "en": "English",
    "es": "Español",
    "fr": "Français",
    "de": "Deutsch",
    "it": "Italiano",
    "pt": "Português",
    "ru": "Русский",
    "zh": "中文",
    "ja": "日本語",
    "ko": "한국어",
    "hi": "हिन्दी",
    "id": "Bahasa Indonesia",
    "vi": "Tiếng Việt",
}

# Listener languages gpt-realtime-translate cannot speak: a general realtime voice model
# interprets into these, turn by turn (media_workers/runtime/interpreter.py). Any language the
# translate model understands may be spoken to them.
TURN_BASED_LANGUAGES: dict[str, str] = {
    "ar": "العربية",
    "tr": "Türkçe",
    "pl": "Polski",
    "uk": "Українська",
    "nl": "Nederlands",
    "sv": "Svenska",
    "el": "Ελληνικά",
    "cs": "Čeština",
    "ro": "Română",
    "he": "עברית",
    "fa": "فارسی",
    "ur": "اردو",
    "bn": "বাংলা",
    "th": "ไทย",
    "tl": "Tagalog",
    "sw": "Kiswahili",
}

# Every language a listener may choose (and a speaker may speak): the translate model's first.
LISTENER_LANGUAGES: dict[str, str] = {**OUTPUT_LANGUAGES, **TURN_BASED_LANGUAGES}

# The languages' English names: how the interpreter's instructions name the target language
# (and how the fake OpenAI server reads it back out of them).
ENGLISH_NAMES: dict[str, str] = {
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "de": "German",
    "it": "Italian",
    "pt": "Portuguese",
    "ru": "Russian",
    "zh": "Chinese",
    "ja": "Japanese",
    "ko": "Korean",
    "hi": "Hindi",
    "id": "Indonesian",
    "vi": "Vietnamese",
    "ar": "Arabic",
    "tr": "Turkish",
    "pl": "Polish",
    "uk": "Ukrainian",
    "nl": "Dutch",
    "sv": "Swedish",
    "el": "Greek",
    "cs": "Czech",
    "ro": "Romanian",
    "he": "Hebrew",
    "fa": "Persian",
    "ur": "Urdu",
    "bn": "Bengali",
    "th": "Thai",
    "tl": "Tagalog",
    "sw": "Swahili",
}


def is_turn_based(language: str) -> bool:
    """Whether listeners of `language` hear each sentence after it ends (an interpreter session)."""
    return language in TURN_BASED_LANGUAGES


# The Celery task (in the web tier) that stores a worker's usage report.
USAGE_TASK = "rooms.tasks.record_translation_usage"
# The Celery task (in the web tier) that keeps one finished utterance of a transcribed call.
TRANSCRIPT_TASK = "rooms.tasks.record_utterance"


def room_group(room_id: str) -> str:
    """The channel-layer group of everyone on the room's page (room_id: the room's public id)."""
    return f"room.{room_id}"


class ContractError(ValueError):
    """A message or report that does not fit this contract."""


# --- Checking --------------------------------------------------------------------------------

T = TypeVar("T")


def _check(value: Any, hint: Any, where: str) -> Any:
    """`value` converted to `hint` (a dataclass, or a plain type, union or container of them)."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        for option in typing.get_args(hint):
            try:
                return _check(value, option, where)
            except ContractError:
                continue
        raise ContractError(f"{where}: {value!r} is not {hint}")
    if hint is Any:
        return value
    if hint is type(None):
        if value is not None:
            raise ContractError(f"{where}: expected null, got {value!r}")
        return None
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if not isinstance(value, dict):
            raise ContractError(f"{where}: expected an object, got {value!r}")
        return _build(hint, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise ContractError(f"{where}: expected a list, got {value!r}")
        (item,) = typing.get_args(hint)
        return [_check(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ContractError(f"{where}: expected an object, got {value!r}")
        if not typing.get_args(hint):
            return dict(value)
        key_hint, value_hint = typing.get_args(hint)
        return {
            _check(k, key_hint, f"{where} key"): _check(v, value_hint, f"{where}[{k!r}]")
            for k, v in value.items()
        }
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ContractError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is int and isinstance(value, bool):
        raise ContractError(f"{where}: expected an integer, got {value!r}")
    if not isinstance(value, hint):
        raise ContractError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value


def _build(cls: type[T], raw: dict[str, Any], where: str) -> T:
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    unexpected = set(raw) - set(fields) - {"type"}
    if unexpected:
        raise ContractError(f"{where}: unexpected keys {sorted(unexpected)}")
    values: dict[str, Any] = {}
    for name, f in fields.items():
        if name in raw:
            values[name] = _check(raw[name], hints[name], f"{where}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ContractError(f"{where}: missing key {name!r}")
    return cls(**values)


def from_dict(cls: type[T], raw: dict[str, Any]) -> T:
    """`raw` as a `cls` (a dataclass of this module), every key and type checked."""
    return _build(cls, raw, cls.__name__)


# --- What is in the messages -----------------------------------------------------------------


@dataclass
class ParticipantInfo:
    """Who a participant is and how they want to hear the call (the web tier's word for it)."""

    id: str
    name: str
    speak: str
    hear: str
    original_volume: float
    translation_volume: float = 1.0
    muted: bool = False
    # The person's page is hidden (another app, the lock screen): it may send silence or nothing.
    background: bool = False

    def public(self) -> dict[str, Any]:
        """What every room page may see of them."""
        return {
            "id": self.id,
            "name": self.name,
            "speak": self.speak,
            "hear": self.hear,
            "muted": self.muted,
            "background": self.background,
        }


# What `participant.update` may change without reconnecting.
UPDATABLE = ("name", "speak", "hear", "muted", "background", "original_volume", "translation_volume")


@dataclass(frozen=True)
class Message:
    TYPE: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        """The message as it goes on the channel layer."""
        return {"type": self.TYPE, **dataclasses.asdict(self)}


MESSAGES: dict[str, type[Message]] = {}
M = TypeVar("M", bound=type[Message])


def _message(cls: M) -> M:
    if cls.TYPE in MESSAGES:
        raise ContractError(f"two messages of type {cls.TYPE!r}")
    MESSAGES[cls.TYPE] = cls
    return cls


def parse(raw: dict[str, Any]) -> Message:
    """A message off the channel layer as its dataclass; ContractError if it does not fit."""
    kind = raw.get("type")
    cls = MESSAGES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ContractError(f"unknown message type {kind!r}")
    return from_dict(cls, raw)


# --- Web tier -> worker (on the worker's channel) ----------------------------------------------


@_message
@dataclass(frozen=True)
class Join(Message):
    """Connect a participant to the room's call and answer their offer."""

    TYPE = "participant.join"
    room_id: str
    participant: ParticipantInfo
    reply_channel: str
    sdp: str
    sdp_type: str = "offer"
    # Why translation is off in this room (the owner's quota ran out), or None: it is on.
    translation_blocked: str | None = None
    # Who pays for this participant's translations: the room's owner as they join.
    payer_id: int | None = None
    # Whether the room keeps transcripts (everyone on its pages is told so).
    keep_transcripts: bool = False


@_message
@dataclass(frozen=True)
class Candidate(Message):
    TYPE = "participant.candidate"
    room_id: str
    participant_id: str
    reply_channel: str
    candidate: dict[str, Any]


@_message
@dataclass(frozen=True)
class Update(Message):
    """New settings for a participant: a subset of UPDATABLE."""

    TYPE = "participant.update"
    room_id: str
    participant_id: str
    reply_channel: str
    changes: dict[str, Any]

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(ParticipantInfo)
        for name, value in self.changes.items():
            if name not in UPDATABLE:
                raise ContractError(f"Update.changes: {name!r} cannot change mid-call")
            _check(value, hints[name], f"Update.changes.{name}")


@_message
@dataclass(frozen=True)
class Leave(Message):
    """Drop a participant; with a reply channel, only if that is still their connection."""

    TYPE = "participant.leave"
    room_id: str
    participant_id: str
    reply_channel: str | None = None


@_message
@dataclass(frozen=True)
class RosterRequest(Message):
    TYPE = "room.roster"
    room_id: str
    reply_channel: str


@_message
@dataclass(frozen=True)
class TranslationBlocked(Message):
    """Stop every translation in the room (a reason) or allow it again (None)."""

    TYPE = "room.translation"
    room_id: str
    blocked: str | None
    # Who pays for translations started from now on: the room's owner as the web tier knows it
    # (it changes when staff hand the room to someone else mid-call). None: unchanged.
    payer_id: int | None = None


@_message
@dataclass(frozen=True)
class KeepTranscripts(Message):
    """The owner turned transcripts on or off: the worker keeps (or stops keeping) from now on."""

    TYPE = "room.transcripts"
    room_id: str
    keep: bool


@_message
@dataclass(frozen=True)
class EndCall(Message):
    """The room was closed or deleted: drop everyone and end the call."""

    TYPE = "room.end"
    room_id: str


@_message
@dataclass(frozen=True)
class Ping(Message):
    """Are you alive? (from a consumer whose call's worker looks late in the registry)."""

    TYPE = "worker.ping"
    reply_channel: str


# --- Worker -> one page's consumer ------------------------------------------------------------


@_message
@dataclass(frozen=True)
class Pong(Message):
    TYPE = "worker.pong"
    worker_id: str


@_message
@dataclass(frozen=True)
class Answer(Message):
    TYPE = "worker.answer"
    sdp: str
    sdp_type: str


@_message
@dataclass(frozen=True)
class WorkerError(Message):
    TYPE = "worker.error"
    code: str
    message: str


@_message
@dataclass(frozen=True)
class Replaced(Message):
    """The participant connected again elsewhere; this connection is over."""

    TYPE = "worker.replaced"


@_message
@dataclass(frozen=True)
class Moving(Message):
    """The worker is stopping: reconnect, the call moves to another worker."""

    TYPE = "worker.moving"


@_message
@dataclass(frozen=True)
class TranslationStatus(Message):
    """A translation's state for a listener; speaker None: every translation of the call."""

    TYPE = "worker.translation"
    speaker: str | None
    language: str
    status: str
    detail: str


@_message
@dataclass(frozen=True)
class Caption(Message):
    TYPE = "worker.caption"
    speaker: str
    name: str
    language: str
    kind: str
    text: str


# --- Worker -> the room's group ---------------------------------------------------------------


@dataclass(frozen=True)
class SessionInfo:
    speaker: str
    language: str


@_message
@dataclass(frozen=True)
class Roster(Message):
    """Who is in the call and which translations run: what every room page shows."""

    TYPE = "call.roster"
    participants: list[dict[str, Any]]
    sessions: list[SessionInfo] = field(default_factory=list)


# --- Web tier -> the room's group (every open page of the room) --------------------------------


@_message
@dataclass(frozen=True)
class RoomClosed(Message):
    """The room was closed or deleted: every page leaves the call; `message` says why."""

    TYPE = "room.closed"
    message: str


@_message
@dataclass(frozen=True)
class TranscriptsNotice(Message):
    """Every page of the room shows (keep) or hides the notice that the call is transcribed."""

    TYPE = "room.transcripts_notice"
    keep: bool


@_message
@dataclass(frozen=True)
class AccessCheck(Message):
    """Every page that gets this checks whether it may stay (a membership was removed, or, sent
    to a user's pages, they logged out or changed their password: ended_session is the session
    that ended)."""

    TYPE = "access.check"
    membership_id: int | None = None
    ended_session: str | None = None


@_message
@dataclass(frozen=True)
class WorkerLost(Message):
    """A page found the call's worker dead: every page in the call reconnects to another."""

    TYPE = "call.worker_lost"
    worker_id: str


# --- Usage: worker -> Celery -> web tier ------------------------------------------------------


@dataclass(frozen=True)
class UsageReport:
    """A translation session's running totals (never increments: a repeat never double-counts)."""

    session_id: str
    # The room's owner when the session started: charged whatever became of the room since.
    payer_id: int | None
    room_id: str
    speaker_id: str
    language: str
    model: str
    worker_id: str
    started_at: float
    ended_at: float | None
    first_audio_at: float | None
    seconds_sent: float
    seconds_received: float
    errors: int
    reconnects: int
    final: bool
    # Token-billed models (the interpreter): tokens used so far by class (input_text,
    # input_audio, cached_text, cached_audio, output_text, output_audio; the input classes
    # without their cached part). Empty for models billed by the minute.
    tokens: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --- Transcripts: worker -> Celery -> web tier ------------------------------------------------


@dataclass(frozen=True)
class UtteranceText:
    language: str
    text: str


@dataclass(frozen=True)
class UtteranceReport:
    """One finished utterance of a transcribed call; `utterance_id` makes a repeat harmless."""

    utterance_id: str
    room_id: str
    speaker_id: str
    speaker_name: str
    source_language: str
    started_at: float
    ended_at: float
    original: str
    translations: list[UtteranceText]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
