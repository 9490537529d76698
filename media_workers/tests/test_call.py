"""One call on one worker, in-process: real aiortc peers on loopback and the fake OpenAI server.

What an attacker controls here is the signalling: offers, candidates, settings. Nothing in
these tests sends a packet anywhere but 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiortc import RTCIceCandidate, RTCPeerConnection, RTCSessionDescription
from openai import AsyncOpenAI

from media_workers.devtools.call_client import until
from media_workers.devtools.fake_openai import FakeOpenAIServer
from media_workers.runtime import translation
from media_workers.runtime.call import Call
from media_workers.runtime.interpreter import InterpreterSession
from media_workers.runtime.peer import Participant
from media_workers.runtime.slots import OwnerSlots
from media_workers.runtime.translation import TranslationSession
from media_workers.runtime.usage import usage_payload
from media_workers.runtime.worker import MediaWorker
from media_workers.shared.contract import EndCall, ParticipantInfo
from media_workers.shared.registry import connect, key_prefix
from tests.support.worker import Listener, Outbox, make_call, make_offer, person


@pytest.fixture
async def slots() -> AsyncIterator[OwnerSlots]:
    client = connect()
    prefix = f"{key_prefix()}{uuid.uuid4().hex[:8]}:"
    yield OwnerSlots(client, prefix=prefix)
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def join(call: Call, info: ParticipantInfo, sdp: str) -> None:
    await call.join(info=info, reply_channel=f"page-{info.id}", sdp=sdp, sdp_type="offer")


def remote_addresses(participant: Participant) -> list[str]:
    """The remote candidates aiortc's ICE transport holds for this participant."""
    transport = participant.pc.getTransceivers()[0].receiver.transport.transport
    return [candidate.ip for candidate in transport.getRemoteCandidates()]


def is_private(host: str) -> bool:
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


@pytest.fixture
def aiortc_sees(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every remote candidate address handed to aiortc; a non-loopback one never goes through."""
    seen: list[str] = []
    set_remote = RTCPeerConnection.setRemoteDescription
    add_candidate = RTCPeerConnection.addIceCandidate

    async def guarded_set_remote(self: RTCPeerConnection, description: RTCSessionDescription) -> None:
        hosts = [line.split()[4] for line in description.sdp.splitlines() if line.startswith("a=candidate:")]
        seen.extend(hosts)
        if any(is_private(host) for host in hosts):
            raise AssertionError(f"aiortc was handed {hosts}")
        await set_remote(self, description)

    async def guarded_add_candidate(self: RTCPeerConnection, candidate: RTCIceCandidate | None) -> None:
        if candidate is not None:
            seen.append(candidate.ip)
            if is_private(candidate.ip):
                return
        await add_candidate(self, candidate)

    monkeypatch.setattr(RTCPeerConnection, "setRemoteDescription", guarded_set_remote)
    monkeypatch.setattr(RTCPeerConnection, "addIceCandidate", guarded_add_candidate)
    yield seen


async def test_it_never_hands_aiortc_a_private_candidate_in_the_offer_or_trickled(
    fake: FakeOpenAIServer, peers: list[RTCPeerConnection], aiortc_sees: list[str]
) -> None:
    outbox = Outbox()
    call = make_call(fake, outbox)
    sdp = await make_offer(peers)
    forged = "".join(
        f"a=candidate:9{n} 1 udp 2122260223 {host} 5000{n} typ host\r\n"
        for n, host in enumerate(["10.1.2.3", "192.168.7.7", "172.17.0.1", "169.254.169.254"])
    )
    sdp = sdp.replace("a=end-of-candidates", forged + "a=end-of-candidates")
    assert "10.1.2.3" in sdp
    try:
        await join(call, person("p1", "en"), sdp)
        assert outbox.to("page-p1", "worker.answer"), outbox.sent
        for host in ("192.168.7.8", "10.9.9.9"):
            candidate = {"candidate": f"candidate:7 1 udp 2122260223 {host} 50000 typ host", "sdpMid": "0"}
            await call.add_candidate("p1", candidate)
        remote = remote_addresses(call.participants["p1"])
    finally:
        await call.close()
    assert remote and all(ipaddress.ip_address(ip).is_loopback for ip in remote), remote
    assert aiortc_sees and not [host for host in aiortc_sees if is_private(host)], aiortc_sees


async def test_it_refuses_an_offer_with_more_than_one_audio_section(
    fake: FakeOpenAIServer, peers: list[RTCPeerConnection]
) -> None:
    outbox = Outbox()
    call = make_call(fake, outbox)
    await join(call, person("p1", "en"), await make_offer(peers, video=True))
    [error] = outbox.to("page-p1", "worker.error")
    assert error["code"] == "bad_offer" and "exactly one audio section" in error["message"]
    assert call.participants == {} and not outbox.to("page-p1", "worker.answer")


async def test_it_answers_one_offer_at_a_time_per_participant(
    fake: FakeOpenAIServer, peers: list[RTCPeerConnection]
) -> None:
    outbox = Outbox()
    call = make_call(fake, outbox)
    first, second = await make_offer(peers), await make_offer(peers)
    try:
        await asyncio.gather(join(call, person("p1", "en"), first), join(call, person("p1", "en"), second))
        [error] = outbox.to("page-p1", "worker.error")
        assert error["code"] == "join_in_progress"
        assert len(outbox.to("page-p1", "worker.answer")) == 1
    finally:
        await call.close()


async def test_it_runs_at_most_the_calls_limit_of_translations_and_says_why_to_the_others(
    fake: FakeOpenAIServer, peers: list[RTCPeerConnection], settings: Any
) -> None:
    settings.MAX_TRANSLATION_SESSIONS_PER_CALL = 2
    outbox = Outbox()
    call = make_call(fake, outbox)
    try:
        for pid, language in (("ana", "es"), ("ben", "en"), ("chi", "fr")):
            await join(call, person(pid, language), await make_offer(peers))
        # Six are wanted (each speaker into the two other languages); two run.
        assert len(call.sessions) == 2
        assert await until(lambda: len(fake.stats()["sessions"]) == 2, timeout=5)
        limited = [
            m for _, m in outbox.sent if m["type"] == "worker.translation" and m["status"] == "limited"
        ]
        assert len(limited) >= 4
        assert all("at most 2 translations" in m["detail"] for m in limited)
    finally:
        await call.close()
    assert fake.total_connections == 2


def session_of(payer: int) -> TranslationSession:
    return TranslationSession(
        client=AsyncOpenAI(api_key="test", base_url="http://127.0.0.1:9/v1"),
        room_id="room",
        speaker_id="s",
        language="fr",
        listener=Listener(),
        transcribe_input=False,
        chunk_ms=100,
        payer_id=payer,
    )


async def test_it_counts_an_owners_sessions_across_workers(slots: OwnerSlots, settings: Any) -> None:
    settings.MAX_TRANSLATION_SESSIONS_PER_OWNER = 2
    other_worker = OwnerSlots(connect(), prefix=slots.prefix)
    one, two, three = session_of(7), session_of(7), session_of(7)
    try:
        assert await slots.acquire(one) and await slots.acquire(two)
        assert not await other_worker.acquire(three)
        # Another owner has places of their own.
        assert await other_worker.acquire(session_of(8))
        await slots.release(one)
        assert await other_worker.acquire(three)
    finally:
        await other_worker.redis.aclose()


async def test_it_frees_the_places_of_a_worker_that_stopped_renewing_them(
    slots: OwnerSlots, settings: Any
) -> None:
    settings.MAX_TRANSLATION_SESSIONS_PER_OWNER = 1
    settings.MEDIA_WORKER_HEARTBEAT_TTL = 0.6
    living, dead = session_of(7), session_of(7)
    assert await slots.acquire(living)
    living.holds_slot = True
    for _ in range(5):
        await asyncio.sleep(0.3)
        await slots.renew([living])
        assert not await slots.acquire(dead)
    await asyncio.sleep(0.9)  # the worker holding `living` died: no more renewals
    assert await slots.acquire(dead)


async def test_it_holds_a_session_over_the_owners_limit_until_a_place_is_free(
    fake: FakeOpenAIServer,
    peers: list[RTCPeerConnection],
    slots: OwnerSlots,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> None:
    settings.MAX_TRANSLATION_SESSIONS_PER_OWNER = 1
    monkeypatch.setattr(translation, "SLOT_RETRY_SECONDS", 0.2)
    first_outbox, second_outbox = Outbox(), Outbox()
    # Two of the owner's rooms (on one worker here; the count is in Redis either way).
    first = make_call(fake, first_outbox, slots, room="kitchen")
    second = make_call(fake, second_outbox, slots, room="garden")
    try:
        await join(first, person("a1", "es"), await make_offer(peers))
        await join(first, person("b1", "en"), await make_offer(peers))
        first.update("b1", {"hear": "es"})  # one session: b1's English into Spanish, for a1
        await join(second, person("a2", "fr"), await make_offer(peers))
        await join(second, person("b2", "en"), await make_offer(peers))
        second.update("b2", {"hear": "fr"})  # b2's English into French, for a2
        assert await until(lambda: len(fake.stats()["sessions"]) == 1, timeout=5)

        def told_to_wait() -> bool:
            return any(m["status"] == "limited" for m in second_outbox.to("page-a2", "worker.translation"))

        assert await until(told_to_wait, timeout=5)
        assert "room's owner" in second_outbox.to("page-a2", "worker.translation")[-1]["detail"]
        assert fake.total_connections == 1
        await first.close()
        assert await until(
            lambda: [s["output_language"] for s in fake.stats()["sessions"]] == ["fr"], timeout=5
        )
    finally:
        await first.close()
        await second.close()


async def test_it_charges_a_session_to_the_owner_it_started_under_whatever_happens_to_the_room(
    fake: FakeOpenAIServer, peers: list[RTCPeerConnection]
) -> None:
    outbox = Outbox()
    call = make_call(fake, outbox)
    try:
        await join(call, person("ana", "es"), await make_offer(peers))
        await join(call, person("ben", "en"), await make_offer(peers))
        running = call.sessions[("ben", "es")]
        # The room is handed to someone else: the next join says so.
        call.payer_id = 8
        await join(call, person("chi", "fr"), await make_offer(peers))
        later = call.sessions[("ben", "fr")]
        assert usage_payload(running, running.usage, worker_id="w", final=False)["payer_id"] == 7
        assert usage_payload(later, later.usage, worker_id="w", final=False)["payer_id"] == 8
    finally:
        await call.close()


async def test_the_worker_hangs_up_a_call_whose_room_was_closed_or_deleted(
    fake: FakeOpenAIServer, peers: list[RTCPeerConnection]
) -> None:
    worker = MediaWorker(worker_id=f"w-{uuid.uuid4().hex[:6]}")
    call = make_call(fake, Outbox())
    worker.calls[call.room_id] = call
    try:
        await join(call, person("ana", "es"), await make_offer(peers))
        await join(call, person("ben", "en"), await make_offer(peers))
        assert await until(lambda: len(fake.stats()["sessions"]) == 2, timeout=5)
        opened = {s["id"] for s in fake.stats()["sessions"]}
        pcs = [p.pc for p in call.participants.values()]

        # Whatever the pages do: they may never send their `leave`.
        worker.dispatch(EndCall(room_id=call.room_id).to_dict())

        assert worker.calls == {}
        assert await until(lambda: fake.stats()["sessions"] == [], timeout=5)
        closed = {s["id"] for s in fake.stats()["ended_sessions"] if s["ended_by"] == "session.close"}
        assert closed == opened
        assert call.participants == {} and all(pc.connectionState == "closed" for pc in pcs)
    finally:
        await call.close()
        await worker.registry.close()


async def test_it_keeps_at_most_the_cap_of_candidates_trickled_after_the_offer(
    fake: FakeOpenAIServer, peers: list[RTCPeerConnection], settings: Any
) -> None:
    settings.MAX_ICE_CANDIDATES_PER_PARTICIPANT = 3
    call = make_call(fake, Outbox())
    try:
        # Candidates may follow: no end-of-candidates yet.
        sdp = (await make_offer(peers)).replace("a=end-of-candidates\r\n", "")
        await join(call, person("p1", "en"), sdp)
        participant = call.participants["p1"]
        offered = participant.remote_candidates
        for port in range(40000, 40010):
            candidate = {
                "candidate": f"candidate:5 1 udp 2122260223 127.0.0.1 {port} typ host",
                "sdpMid": "0",
            }
            await call.add_candidate("p1", candidate)
        assert 1 <= offered <= 3
        assert len(remote_addresses(participant)) == 3
    finally:
        await call.close()


async def test_it_paces_language_changes_and_a_rejoin_does_not_reset_the_pace(
    fake: FakeOpenAIServer, peers: list[RTCPeerConnection], settings: Any
) -> None:
    settings.LANGUAGE_CHANGE_INTERVAL_SECONDS = 5.0
    call = make_call(fake, Outbox())
    try:
        await join(call, person("ana", "es"), await make_offer(peers))
        await join(call, person("ben", "en"), await make_offer(peers))
        call.update("ben", {"hear": "de"})  # the first change applies at once
        assert call.participants["ben"].info.hear == "de"
        changed = time.monotonic()
        call.update("ben", {"hear": "fr"})
        # Rejoining with yet another language (the page saved it) is a change like the others.
        rejoined = person("ben", "en")
        rejoined.hear = "it"
        await join(call, rejoined, await make_offer(peers))
        assert time.monotonic() - changed < 5.0, "the machine is too slow for this test's interval"
        assert call.participants["ben"].info.hear == "de"
        assert set(call.sessions) == {("ana", "de"), ("ben", "es")}
        # The last one asked for wins, once the interval is over.
        assert await until(lambda: call.participants["ben"].info.hear == "it", timeout=8)
        assert time.monotonic() - changed >= 5.0
        assert set(call.sessions) == {("ana", "it"), ("ben", "es")}
    finally:
        await call.close()


async def test_it_flushes_every_translation_and_reports_its_usage_when_the_last_two_leave_at_once(
    fake: FakeOpenAIServer, peers: list[RTCPeerConnection]
) -> None:
    ended: list[TranslationSession] = []
    call = Call(
        room_id="room",
        outbox=Outbox(),
        client=AsyncOpenAI(api_key="test", base_url=fake.base_url, max_retries=0),
        on_empty=lambda call: None,
        on_session_end=lambda session, usage: ended.append(session),
    )
    call.payer_id = 7
    await join(call, person("ana", "es"), await make_offer(peers))
    await join(call, person("ben", "en"), await make_offer(peers))
    assert sorted(call.sessions) == [("ana", "en"), ("ben", "es")]
    # Both translations are set up on the server.
    assert await until(
        lambda: sorted(str(s["output_language"]) for s in fake.stats()["sessions"]) == ["en", "es"]
    )
    # The server takes a while to flush, as the real model does.
    fake.stalled_until = time.monotonic() + 1.0
    await call.leave("ana")
    await call.leave("ben")
    # Empty: the worker ends the call right away.
    await call.close()
    assert await until(lambda: len(fake.ended_sessions) == 2, timeout=5)
    assert sorted(s["ended_by"] for s in fake.ended_sessions) == ["session.close", "session.close"]
    # Each session's final usage report went out, once.
    assert sorted(session.key for session in ended) == [("ana", "en"), ("ben", "es")]


async def test_same_language_listeners_read_the_original_from_a_live_translation_not_an_interpreter(
    fake: FakeOpenAIServer, peers: list[RTCPeerConnection]
) -> None:
    outbox = Outbox()
    call = make_call(fake, outbox)
    try:
        # Ana speaks English; Ali hears Arabic (an interpreter, first in order), Bea Spanish,
        # and Ben, who shares Ana's language, reads her words from one of those sessions.
        for pid, language in (("ana", "en"), ("ali", "ar"), ("bea", "es"), ("ben", "en")):
            await join(call, person(pid, language), await make_offer(peers))
        interpreter, translation = call.sessions[("ana", "ar")], call.sessions[("ana", "es")]
        assert isinstance(interpreter, InterpreterSession)
        assert not isinstance(translation, InterpreterSession)
        call.on_transcript(interpreter, kind="original", text="after the turn ")
        call.on_transcript(translation, kind="original", text="as she speaks ")
        assert [m["text"] for m in outbox.to("page-ben", "worker.caption")] == ["as she speaks "]
    finally:
        await call.close()
