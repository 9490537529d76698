"""Transcripts on the worker: utterances by pauses, and keeping only while the room does."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aiortc import RTCPeerConnection

from media_workers.devtools.call_client import until
from media_workers.devtools.fake_openai import FakeOpenAIServer
from media_workers.runtime.call import Call
from media_workers.runtime.transcripts import Transcriber, TranscriptSender
from media_workers.runtime.worker import MediaWorker
from media_workers.shared import contract
from media_workers.shared.contract import UtteranceReport
from tests.support.worker import Outbox, make_call, make_offer, person


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def transcriber(sent: list[UtteranceReport], clock: Clock) -> Transcriber:
    return Transcriber(room_id="r", send=sent.append, pause=1.5, clock=clock)


def say(t: Transcriber, speaker: str, language: str, kind: str, text: str) -> None:
    t.add(
        speaker_id=speaker,
        speaker_name=speaker.title(),
        source_language="en",
        language=language,
        kind=kind,
        text=text,
    )


def test_it_ends_an_utterance_when_the_speaker_pauses() -> None:
    sent: list[UtteranceReport] = []
    clock = Clock()
    t = transcriber(sent, clock)
    say(t, "ana", "es", "original", "Hello ")
    say(t, "ana", "fr", "original", "Hello ")
    say(t, "ana", "es", "translation", "Hola ")
    say(t, "ana", "fr", "translation", "Bonjour ")
    clock.now += 1.0
    say(t, "ana", "es", "original", "there")
    say(t, "ana", "es", "translation", "a todos")
    t.finish_paused()
    assert sent == []
    clock.now += 2.0
    t.finish_paused()
    [first] = sent
    # One session's transcript of the input is the original: the other's is the same words.
    assert first.original == "Hello there"
    assert [(x.language, x.text) for x in first.translations] == [("es", "Hola a todos"), ("fr", "Bonjour ")]
    assert (first.started_at, first.ended_at, first.speaker_name) == (1000.0, 1001.0, "Ana")
    say(t, "ana", "es", "original", "Again")
    t.finish_all()
    assert [u.original for u in sent] == ["Hello there", "Again"]
    assert sent[0].utterance_id != sent[1].utterance_id


def test_it_keeps_each_speaker_apart_and_drops_what_is_unfinished_when_told() -> None:
    sent: list[UtteranceReport] = []
    clock = Clock()
    t = transcriber(sent, clock)
    say(t, "ana", "es", "original", "One")
    say(t, "ben", "en", "original", "Dos")
    clock.now += 2.0
    say(t, "ben", "en", "original", "Tres")
    assert [u.original for u in sent] == ["Dos"]
    t.drop_all()
    t.finish_all()
    assert [u.original for u in sent] == ["Dos"]


def test_it_waits_for_a_turn_based_answer_before_ending_the_utterance() -> None:
    sent: list[UtteranceReport] = []
    clock = Clock()
    t = transcriber(sent, clock)
    t.add(
        speaker_id="ana",
        speaker_name="Ana",
        source_language="es",
        language="es",
        kind="original",
        text="Hola a todos",
        turn_based=True,
    )
    clock.now += 3.0
    t.finish_paused()
    assert sent == []
    # The interpreter answers after the turn ended: it belongs to the same utterance.
    t.add(
        speaker_id="ana",
        speaker_name="Ana",
        source_language="es",
        language="tr",
        kind="translation",
        text="Herkese merhaba",
        turn_based=True,
    )
    clock.now += 10.0
    t.finish_paused()
    assert [(u.original, [(x.language, x.text) for x in u.translations]) for u in sent] == [
        ("Hola a todos", [("tr", "Herkese merhaba")])
    ]


def test_it_sends_nothing_for_an_utterance_of_empty_text() -> None:
    sent: list[UtteranceReport] = []
    t = transcriber(sent, Clock())
    say(t, "ana", "es", "translation", "   ")
    t.finish_all()
    assert sent == []


async def test_the_sender_delivers_in_order_and_survives_a_failure() -> None:
    delivered: list[str] = []

    def send(payload: dict[str, object]) -> None:
        if payload["utterance_id"] == "bad":
            raise ConnectionError("broker away")
        delivered.append(str(payload["utterance_id"]))

    sender = TranscriptSender(worker_id="w", send=send)
    for name in ("a", "bad", "b"):
        sender.put(UtteranceReport(name, "r", "1", "Ana", "en", 1.0, 2.0, "Hi", []))
    await sender.flush()
    assert delivered == ["a", "b"]


@pytest.fixture
async def worker() -> AsyncIterator[tuple[MediaWorker, list[UtteranceReport]]]:
    media_worker = MediaWorker(worker_id=f"w-{uuid.uuid4().hex[:6]}")
    media_worker.outbox = Outbox()  # type: ignore[assignment]
    kept: list[UtteranceReport] = []
    media_worker.transcripts.put = kept.append  # type: ignore[method-assign,assignment]
    yield media_worker, kept
    for call in list(media_worker.calls.values()):
        await call.close()
    await media_worker.registry.close()


async def joined(
    media_worker: MediaWorker, fake: FakeOpenAIServer, peers: list[RTCPeerConnection], keep: bool
) -> Call:
    """Ana (Spanish) and Ben (English) in room "r": one translation each way."""
    outbox = media_worker.outbox
    assert isinstance(outbox, Outbox)
    media_worker.client = make_call(fake, outbox).client
    for who, language in (("ana", "es"), ("ben", "en")):
        join = contract.Join(
            room_id="r",
            participant=person(who, language),
            reply_channel=f"page-{who}",
            sdp=await make_offer(peers),
            keep_transcripts=keep,
        )
        media_worker.dispatch(join.to_dict())
    call = media_worker.calls["r"]
    assert await until(lambda: sorted(call.sessions) == [("ana", "en"), ("ben", "es")], timeout=10)
    return call


def speak(call: Call, speaker: str, original: str, translation: str) -> None:
    """What the speaker's translation session hands the call: their words, then the translation."""
    session = next(s for (who, _), s in call.sessions.items() if who == speaker)
    call.on_transcript(session, kind="original", text=original)
    call.on_transcript(session, kind="translation", text=translation)


async def test_the_worker_keeps_transcripts_only_while_the_room_does(
    worker: tuple[MediaWorker, list[UtteranceReport]], fake: FakeOpenAIServer, peers: list[RTCPeerConnection]
) -> None:
    media_worker, kept = worker
    call = await joined(media_worker, fake, peers, keep=False)
    speak(call, "ana", "Antes", "Before")
    media_worker.dispatch(contract.KeepTranscripts(room_id="r", keep=True).to_dict())
    speak(call, "ana", "Durante", "During")
    # Turned off mid-utterance: what was not finished is not kept, and nothing after.
    media_worker.dispatch(contract.KeepTranscripts(room_id="r", keep=False).to_dict())
    speak(call, "ben", "After", "Después")
    await call.close()
    assert kept == []


async def test_the_worker_sends_each_speakers_words_with_their_translations(
    worker: tuple[MediaWorker, list[UtteranceReport]], fake: FakeOpenAIServer, peers: list[RTCPeerConnection]
) -> None:
    media_worker, kept = worker
    call = await joined(media_worker, fake, peers, keep=True)
    speak(call, "ana", "Hola", "Hello")
    speak(call, "ben", "Hi", "Hola")
    # Ana pauses: her utterance is sent while the call goes on.
    assert await until(lambda: [u.original for u in kept] == ["Hola", "Hi"], timeout=5)
    speak(call, "ana", "Adiós", "Goodbye")
    await call.close()
    assert [(u.speaker_id, u.original, [(t.language, t.text) for t in u.translations]) for u in kept] == [
        ("ana", "Hola", [("en", "Hello")]),
        ("ben", "Hi", [("es", "Hola")]),
        ("ana", "Adiós", [("en", "Goodbye")]),
    ]
    assert kept[0].speaker_name == "ana" and kept[0].source_language == "es"
