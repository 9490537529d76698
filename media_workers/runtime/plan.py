"""Who gets which translation session, and what each listener hears: a pure function of the roster.

For every speaker S and every distinct listener language L among the others (other than S's
own language) there is exactly one translation session S -> L. Its output goes to the
listeners of language L, never back to S. Listeners who share S's language hear S's voice
directly at full volume; everyone else hears it at their own original volume under the
translation. With translation blocked (the owner's quota ran out) there are no sessions and
everyone hears everyone untranslated. A speaker muted for a while has no sessions (they are
reopened when they unmute), and a call runs at most its limit of sessions: running ones keep
their place, then those with the most listeners.

`Call` (call.py) applies the difference between the plan and what runs; this module decides.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import Enum

from media_workers.shared.contract import ParticipantInfo

SessionKey = tuple[str, str]  # (speaker id, language translated into)


class Source(Enum):
    ORIGINAL = "original"
    TRANSLATION = "translation"


@dataclass(frozen=True, order=True)
class SourceKey:
    """One thing a listener may hear: a speaker's own voice or that speaker's translation."""

    speaker_id: str
    kind: Source

    @classmethod
    def original(cls, speaker_id: str) -> SourceKey:
        return cls(speaker_id, Source.ORIGINAL)

    @classmethod
    def translation(cls, speaker_id: str) -> SourceKey:
        return cls(speaker_id, Source.TRANSLATION)

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.speaker_id}"


@dataclass(frozen=True)
class Plan:
    # The translation sessions that should run.
    sessions: frozenset[SessionKey]
    # Sessions the roster wants but the call's limit leaves out (their listeners are told why).
    limited: frozenset[SessionKey]
    # Listener id -> the sources they hear and the gain of each (a source not listed: silent).
    sources: dict[str, dict[SourceKey, float]]

    def languages_of(self, speaker_id: str) -> list[str]:
        """The languages a speaker is translated into, sorted."""
        return sorted(language for (sid, language) in self.sessions if sid == speaker_id)


def hears_untranslated(listener: ParticipantInfo, speaker: ParticipantInfo, *, blocked: bool) -> bool:
    """Whether `listener` hears `speaker`'s own voice as the main sound (no translation for them)."""
    return blocked or listener.hear == speaker.speak


def rank_sessions(
    wanted: Iterable[SessionKey], *, running: Iterable[SessionKey], listeners: dict[str, int], limit: int
) -> set[SessionKey]:
    """Which of the wanted sessions may run under the call's limit.

    Running ones keep their place (no churn); then those with more listeners of their
    language, then a fixed order, so the same roster always gives the same plan.
    """
    running = set(running)
    ranked = sorted(wanted, key=lambda key: (key not in running, -listeners.get(key[1], 0), key))
    return set(ranked[:limit])


def plan(
    roster: Iterable[ParticipantInfo],
    *,
    translation_blocked: bool = False,
    paused: Collection[str] = (),
    running: Iterable[SessionKey] = (),
    limit: int | None = None,
) -> Plan:
    """The sessions and every listener's mix that this roster wants.

    `paused`: speakers whose translations are closed (muted for a while); `running`: the
    sessions that run now, which keep their place under `limit` (sessions per call, None: any).
    """
    people = list(roster)
    wanted: set[SessionKey] = set()
    sources: dict[str, dict[SourceKey, float]] = {}
    for listener in people:
        mix: dict[SourceKey, float] = {}
        for speaker in people:
            if speaker.id == listener.id:
                continue
            if hears_untranslated(listener, speaker, blocked=translation_blocked):
                mix[SourceKey.original(speaker.id)] = 1.0
                continue
            if speaker.id not in paused:
                wanted.add((speaker.id, listener.hear))
            if listener.original_volume > 0:
                mix[SourceKey.original(speaker.id)] = listener.original_volume
            mix[SourceKey.translation(speaker.id)] = listener.translation_volume
        sources[listener.id] = mix
    allowed = wanted
    if limit is not None:
        listeners = Counter(person.hear for person in people)
        allowed = rank_sessions(wanted, running=running, listeners=listeners, limit=limit)
    return Plan(sessions=frozenset(allowed), limited=frozenset(wanted - allowed), sources=sources)
