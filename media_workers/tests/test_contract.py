"""The web <-> worker contract: messages round-trip, and a message that does not fit fails loudly."""

from __future__ import annotations

import itertools
import re

import pytest

from media_workers.shared import contract
from media_workers.shared.contract import ContractError, Join, ParticipantInfo, Update, UsageReport, parse


def alice() -> ParticipantInfo:
    return ParticipantInfo(id="1", name="Alice", speak="en", hear="es", original_volume=0.2)


def test_it_round_trips_every_message_type() -> None:
    samples = [
        Join(room_id="r", participant=alice(), reply_channel="c", sdp="v=0"),
        contract.Candidate(room_id="r", participant_id="1", reply_channel="c", candidate={"candidate": "x"}),
        Update(room_id="r", participant_id="1", reply_channel="c", changes={"muted": True}),
        contract.Leave(room_id="r", participant_id="1"),
        contract.RosterRequest(room_id="r", reply_channel="c"),
        contract.TranslationBlocked(room_id="r", blocked="quota"),
        contract.KeepTranscripts(room_id="r", keep=True),
        contract.TranscriptsNotice(keep=False),
        contract.EndCall(room_id="r"),
        contract.Ping(reply_channel="c"),
        contract.Pong(worker_id="w"),
        contract.WorkerLost(worker_id="w"),
        contract.Answer(sdp="v=0", sdp_type="answer"),
        contract.WorkerError(code="bad_offer", message="no"),
        contract.Replaced(),
        contract.Moving(),
        contract.TranslationStatus(speaker=None, language="es", status="off", detail="quota"),
        contract.Caption(speaker="1", name="Alice", language="es", kind="translation", text="hola"),
        contract.Roster(participants=[alice().public()], sessions=[contract.SessionInfo("1", "es")]),
        contract.RoomClosed(message="The owner closed this room."),
        contract.AccessCheck(membership_id=7),
    ]
    assert {type(m) for m in samples} == set(contract.MESSAGES.values())
    for message in samples:
        assert parse(message.to_dict()) == message


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        ({"type": "participant.jion", "room_id": "r"}, "unknown message type"),
        ({"type": "room.roster", "room": "r", "reply_channel": "c"}, "unexpected keys ['room']"),
        ({"type": "room.roster", "reply_channel": "c"}, "missing key 'room_id'"),
        ({"type": "room.translation", "room_id": "r", "blocked": 3}, "blocked"),
        (
            {
                "type": "participant.update",
                "room_id": "r",
                "participant_id": "1",
                "reply_channel": "c",
                "changes": {"hear": 5},
            },
            "changes.hear",
        ),
        (
            {
                "type": "participant.update",
                "room_id": "r",
                "participant_id": "1",
                "reply_channel": "c",
                "changes": {"id": "2"},
            },
            "cannot change",
        ),
        (
            {
                "type": "participant.join",
                "room_id": "r",
                "reply_channel": "c",
                "sdp": "v=0",
                "participant": {"id": "1", "name": "A", "speak": "en", "hear": "es"},
            },
            "missing key 'original_volume'",
        ),
    ],
)
def test_it_refuses_a_message_that_does_not_fit(raw: dict[str, object], complaint: str) -> None:
    with pytest.raises(ContractError, match=re.escape(complaint)):
        parse(raw)


def test_it_refuses_a_usage_report_with_a_missing_field() -> None:
    report = UsageReport(
        session_id="s",
        payer_id=3,
        room_id="r",
        speaker_id="1",
        language="es",
        model="m",
        worker_id="w",
        started_at=1.0,
        ended_at=None,
        first_audio_at=None,
        seconds_sent=1.0,
        seconds_received=0.5,
        errors=0,
        reconnects=0,
        final=False,
    )
    raw = report.to_dict()
    assert contract.from_dict(UsageReport, raw) == report
    del raw["model"]
    with pytest.raises(ContractError, match="missing key 'model'"):
        contract.from_dict(UsageReport, raw)


def test_it_round_trips_an_utterance_and_refuses_a_bad_translation() -> None:
    report = contract.UtteranceReport(
        utterance_id="u",
        room_id="r",
        speaker_id="1",
        speaker_name="Alice",
        source_language="en",
        started_at=1.0,
        ended_at=2.0,
        original="Hello",
        translations=[contract.UtteranceText("es", "Hola")],
    )
    raw = report.to_dict()
    assert contract.from_dict(contract.UtteranceReport, raw) == report
    raw["translations"] = [{"language": "es"}]
    with pytest.raises(ContractError, match="missing key 'text'"):
        contract.from_dict(contract.UtteranceReport, raw)


def test_it_gives_the_fake_server_a_tone_for_every_language_people_may_choose() -> None:
    from media_workers.devtools.fake_openai import TONE_FACTORS

    assert set(TONE_FACTORS) == set(contract.LISTENER_LANGUAGES)
    factors = sorted(TONE_FACTORS.values())
    # Every language's tone is told apart from the others' and from the original voice.
    assert all(b - a >= 0.1 - 1e-9 for a, b in itertools.pairwise(factors))
    assert all(abs(f - 1.0) >= 0.1 - 1e-9 for f in factors)


def test_it_names_every_listener_language_in_english_and_in_its_own_script() -> None:
    assert set(contract.ENGLISH_NAMES) == set(contract.LISTENER_LANGUAGES)
    assert not set(contract.OUTPUT_LANGUAGES) & set(contract.TURN_BASED_LANGUAGES)
    assert contract.is_turn_based("tr") and not contract.is_turn_based("es")


def test_it_checks_the_token_counts_of_a_usage_report() -> None:
    raw = {
        "session_id": "s",
        "payer_id": None,
        "room_id": "r",
        "speaker_id": "1",
        "language": "tr",
        "model": "gpt-realtime-2.1",
        "worker_id": "w",
        "started_at": 0.0,
        "ended_at": None,
        "first_audio_at": None,
        "seconds_sent": 1.0,
        "seconds_received": 0.5,
        "errors": 0,
        "reconnects": 0,
        "final": False,
        "tokens": {"input_audio": 10, "output_audio": 20},
    }
    assert contract.from_dict(UsageReport, raw).tokens == {"input_audio": 10, "output_audio": 20}
    with pytest.raises(ContractError, match="tokens"):
        contract.from_dict(UsageReport, {**raw, "tokens": {"input_audio": "ten"}})
