"""MediaWorker.dispatch in-process: what the worker does with each message from the web tier."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aiortc import RTCPeerConnection

from media_workers.devtools.call_client import until
from media_workers.devtools.fake_openai import FakeOpenAIServer
from media_workers.runtime.worker import MediaWorker
from media_workers.shared import contract
from media_workers.shared.contract import ContractError
from tests.support.worker import Outbox, make_call, make_offer, person


@pytest.fixture
async def worker() -> AsyncIterator[tuple[MediaWorker, Outbox]]:
    worker = MediaWorker(worker_id=f"w-{uuid.uuid4().hex[:6]}")
    outbox = Outbox()
    worker.outbox = outbox  # type: ignore[assignment]
    yield worker, outbox
    for call in list(worker.calls.values()):
        await call.close()
    await worker.registry.close()


async def test_it_refuses_a_message_that_does_not_fit_the_contract(
    worker: tuple[MediaWorker, Outbox],
) -> None:
    media_worker, outbox = worker
    with pytest.raises(ContractError, match="unexpected keys \\['room'\\]"):
        media_worker.dispatch({"type": "room.roster", "room": "r", "room_id": "r", "reply_channel": "page"})
    with pytest.raises(ContractError, match="unknown message type"):
        media_worker.dispatch({"type": "participant.wave", "room_id": "r"})
    assert outbox.sent == []


async def test_it_tells_a_page_to_join_first_and_ignores_what_needs_no_answer(
    worker: tuple[MediaWorker, Outbox],
) -> None:
    media_worker, outbox = worker
    media_worker.dispatch(
        contract.Update(
            room_id="r", participant_id="1", reply_channel="page", changes={"muted": True}
        ).to_dict()
    )
    media_worker.dispatch(contract.Leave(room_id="r", participant_id="1", reply_channel="page").to_dict())
    media_worker.dispatch(contract.RosterRequest(room_id="r", reply_channel="page").to_dict())
    media_worker.dispatch(contract.TranslationBlocked(room_id="r", blocked="quota").to_dict())
    assert [m["type"] for _, m in outbox.sent] == ["worker.error"]
    assert outbox.sent[0][1]["code"] == "not_in_call"
    assert media_worker.calls == {}


async def test_it_routes_each_message_to_the_rooms_call(
    worker: tuple[MediaWorker, Outbox], fake: FakeOpenAIServer, peers: list[RTCPeerConnection]
) -> None:
    media_worker, outbox = worker
    media_worker.client = make_call(fake, outbox).client
    for who, language in (("ana", "es"), ("ben", "en")):
        join = contract.Join(
            room_id="r",
            participant=person(who, language),
            reply_channel=f"page-{who}",
            sdp=await make_offer(peers),
        )
        media_worker.dispatch(join.to_dict())
    call = media_worker.calls["r"]
    assert await until(lambda: len(call.participants) == 2, timeout=10)
    assert outbox.to("page-ana", "worker.answer") and outbox.to("page-ben", "worker.answer")
    assert sorted(call.sessions) == [("ana", "en"), ("ben", "es")]

    media_worker.dispatch(contract.RosterRequest(room_id="r", reply_channel="page-new").to_dict())
    [roster] = outbox.to("page-new", "call.roster")
    assert {p["id"] for p in roster["participants"]} == {"ana", "ben"}

    media_worker.dispatch(
        contract.Update(
            room_id="r", participant_id="ben", reply_channel="page-ben", changes={"hear": "es"}
        ).to_dict()
    )
    # Ben now hears Spanish like Ana speaks it: her translation for him is no longer wanted.
    assert sorted(call.sessions) == [("ben", "es")]

    # Staff handed the room to someone else: what the call starts from now on is theirs to pay.
    assert call.payer_id is None
    media_worker.dispatch(contract.TranslationBlocked(room_id="r", blocked="quota", payer_id=42).to_dict())
    assert call.sessions == {}
    assert outbox.to("page-ana", "worker.translation")[-1]["status"] == "off"
    assert call.payer_id == 42
    # A message that names no payer leaves the payer as it was.
    media_worker.dispatch(contract.TranslationBlocked(room_id="r", blocked="quota").to_dict())
    assert call.payer_id == 42

    media_worker.dispatch(
        contract.Leave(room_id="r", participant_id="ana", reply_channel="page-ana").to_dict()
    )
    assert await until(lambda: list(call.participants) == ["ben"], timeout=5)
