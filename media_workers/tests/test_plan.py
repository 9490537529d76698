"""The routing plan, case by case: who gets a translation session and what each listener hears."""

from __future__ import annotations

import itertools

import pytest

from media_workers.runtime.plan import SourceKey, plan, rank_sessions
from media_workers.shared.contract import ParticipantInfo

ORIG, TRAN = SourceKey.original, SourceKey.translation


def person(
    pid: str,
    speak: str,
    hear: str | None = None,
    *,
    original: float = 0.2,
    translation_volume: float = 1.0,
) -> ParticipantInfo:
    return ParticipantInfo(
        id=pid,
        name=pid,
        speak=speak,
        hear=hear or speak,
        original_volume=original,
        translation_volume=translation_volume,
    )


@pytest.mark.parametrize(
    ("roster", "sessions"),
    [
        # Two people, two languages: one session each way.
        ([person("a", "en"), person("b", "es")], {("a", "es"), ("b", "en")}),
        # Two people sharing a language: no session at all.
        ([person("a", "en"), person("b", "en")], set()),
        # Three people, two of them listening in Spanish: still one session per speaker and language.
        (
            [person("a", "en"), person("b", "es"), person("c", "es")],
            {("a", "es"), ("b", "en"), ("c", "en")},
        ),
        # Someone who speaks French but listens in English.
        ([person("a", "en"), person("b", "fr", "en")], {("b", "en")}),
        # Eight people, four languages, two each: every speaker into the three other languages.
        (
            [person(f"p{i}", lang) for i, lang in enumerate(["en", "es", "fr", "de"] * 2)],
            {
                (f"p{i}", lang)
                for i, speak in enumerate(["en", "es", "fr", "de"] * 2)
                for lang in ["en", "es", "fr", "de"]
                if lang != speak
            },
        ),
        # Alone: nobody to translate for.
        ([person("a", "en")], set()),
    ],
)
def test_it_starts_one_session_per_speaker_and_other_listener_language(
    roster: list[ParticipantInfo], sessions: set[tuple[str, str]]
) -> None:
    assert plan(roster).sessions == sessions


def test_it_never_sends_anyone_their_own_voice_or_translation() -> None:
    roster = [person(f"p{i}", lang) for i, lang in enumerate(["en", "es", "fr", "en", "ja", "es", "de"])]
    result = plan(roster)
    for listener in roster:
        assert {key.speaker_id for key in result.sources[listener.id]} == {p.id for p in roster} - {
            listener.id
        }


def test_it_plays_a_same_language_speaker_directly_at_full_volume() -> None:
    result = plan([person("a", "en"), person("b", "en", original=0.1)])
    assert result.sources["b"] == {ORIG("a"): 1.0}


def test_it_plays_the_translation_over_the_quiet_original() -> None:
    a = person("a", "en")
    b = person("b", "es", original=0.25, translation_volume=0.8)
    assert plan([a, b]).sources["b"] == {ORIG("a"): 0.25, TRAN("a"): 0.8}


def test_it_leaves_the_original_out_when_its_volume_is_zero() -> None:
    result = plan([person("a", "en"), person("b", "es", original=0.0)])
    assert result.sources["b"] == {TRAN("a"): 1.0}


def test_it_follows_a_listener_changing_language() -> None:
    a, b, c = person("a", "en"), person("b", "es"), person("c", "es")
    before = plan([a, b, c])
    c.hear = "fr"
    after = plan([a, b, c])
    assert after.sessions - before.sessions == {("a", "fr"), ("b", "fr")}
    assert before.sessions - after.sessions == set()
    c.hear = "en"
    moved = plan([a, b, c])
    # Nobody listens in Spanish or French any more except b; a -> es stays for b, the French ones go.
    assert moved.sessions == {("a", "es"), ("b", "en"), ("c", "en")}
    assert moved.sources["c"] == {ORIG("a"): 1.0, ORIG("b"): 0.2, TRAN("b"): 1.0}


def test_it_keeps_a_muted_speakers_sessions_running() -> None:
    # Muting silences the voice in the call, not the routing: unmuting must not wait for a new session.
    a, b = person("a", "en"), person("b", "es")
    before = plan([a, b])
    a.muted = True
    assert plan([a, b]) == before


def test_it_plays_everyone_untranslated_when_translation_is_blocked() -> None:
    roster = [person("a", "en"), person("b", "es", original=0.1), person("c", "fr")]
    result = plan(roster, translation_blocked=True)
    assert result.sessions == frozenset()
    assert result.sources["b"] == {ORIG("a"): 1.0, ORIG("c"): 1.0}


@pytest.mark.parametrize("size", range(2, 9))
def test_it_hears_everyone_else_in_every_roster_of_two_to_eight(size: int) -> None:
    languages = itertools.cycle(["en", "es", "ja"])
    roster = [person(f"p{i}", next(languages)) for i in range(size)]
    result = plan(roster)
    for listener in roster:
        for speaker in roster:
            if speaker is listener:
                continue
            translated = TRAN(speaker.id) in result.sources[listener.id]
            assert translated == (listener.hear != speaker.speak)
            assert translated == ((speaker.id, listener.hear) in result.sessions)


def test_it_names_a_source_by_its_kind_and_speaker() -> None:
    assert str(ORIG("7")) == "original:7"
    assert ORIG("7") != TRAN("7")
    assert plan([person("a", "en"), person("b", "es")]).languages_of("a") == ["es"]


def test_it_closes_a_paused_speakers_sessions_but_keeps_what_others_hear() -> None:
    a, b = person("a", "en"), person("b", "es")
    result = plan([a, b], paused={"a"})
    assert result.sessions == {("b", "en")}
    assert result.sources["b"] == {ORIG("a"): 0.2, TRAN("a"): 1.0}


@pytest.mark.parametrize(
    ("running", "limit", "allowed"),
    [
        # The Spanish listeners outnumber the French one: a -> es wins the one place.
        ((), 1, {("a", "es")}),
        # A running session keeps its place over a more popular one.
        ({("a", "fr")}, 1, {("a", "fr")}),
        # Room for all eight.
        (
            (),
            8,
            {
                ("a", "es"),
                ("a", "fr"),
                ("b", "en"),
                ("b", "fr"),
                ("c", "en"),
                ("c", "fr"),
                ("d", "en"),
                ("d", "es"),
            },
        ),
    ],
)
def test_it_runs_at_most_the_limit_keeping_running_sessions_first(
    running: set[tuple[str, str]], limit: int, allowed: set[tuple[str, str]]
) -> None:
    roster = [person("a", "en"), person("b", "es"), person("c", "es"), person("d", "fr")]
    result = plan(roster, running=running, limit=limit)
    assert result.sessions == allowed
    assert result.limited == plan(roster).sessions - allowed


@pytest.mark.parametrize(
    ("wanted", "running", "listeners", "limit", "plan"),
    [
        # Under the limit: all of them.
        ({("a", "es"), ("b", "en")}, set(), {"es": 1, "en": 1}, 4, {("a", "es"), ("b", "en")}),
        # Running sessions keep their place over new ones.
        ({("a", "es"), ("b", "fr")}, {("b", "fr")}, {"es": 3, "fr": 1}, 1, {("b", "fr")}),
        # Then those more people listen to.
        ({("a", "es"), ("a", "fr")}, set(), {"es": 1, "fr": 2}, 1, {("a", "fr")}),
        # Then a fixed order.
        ({("b", "es"), ("a", "es")}, set(), {"es": 1}, 1, {("a", "es")}),
        ({("a", "es")}, set(), {"es": 1}, 0, set()),
    ],
)
def test_it_plans_which_translations_run_under_the_limit(
    wanted: set[tuple[str, str]],
    running: set[tuple[str, str]],
    listeners: dict[str, int],
    limit: int,
    plan: set[tuple[str, str]],
) -> None:
    assert rank_sessions(wanted, running=running, listeners=listeners, limit=limit) == plan
