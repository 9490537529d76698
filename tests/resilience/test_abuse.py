"""Abuse against real processes: garbage offers reaching a media worker, and the OpenAI key
staying on the server (never in a page, a websocket message or a log line)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from channels.db import database_sync_to_async

from media_workers.devtools.call_client import HttpSession, until
from media_workers.devtools.fake_openai import TONE_FACTORS
from media_workers.devtools.stack import Stack
from tests.support.calls import HEARS, participant, share
from tests.support.people import PASSWORD, Person
from tests.support.rooms import make_room
from tests.support.stack import running_stack

pytestmark = [pytest.mark.resilience, pytest.mark.django_db(transaction=True)]

ALICE = Person("alice@example.com", "Alice", "en")
BRUNO = Person("bruno@example.com", "Bruno", "es")
SECRET = "sk-test-" + "s3cr3t" * 8


@pytest.fixture
def keyed_stack(django_db_setup: None, tmp_path: Path) -> Iterator[Stack]:
    """The service with a (fake) OpenAI key configured: not demo mode; the fake accepts any key."""
    env = {"TEST_OPENAI_API_KEY": SECRET}
    with running_stack(fake_mode="tone", log_dir=tmp_path / "logs", extra_env=env) as stack:
        yield stack


async def test_it_keeps_the_openai_key_out_of_pages_messages_and_logs(keyed_stack: Stack) -> None:
    room = await database_sync_to_async(make_room)(ALICE, BRUNO)
    async with (
        participant(keyed_stack, ALICE, room.public_id, 400) as alice,
        participant(keyed_stack, BRUNO, room.public_id, 1000) as bruno,
    ):
        assert await until(lambda: share(bruno, 400 * TONE_FACTORS["es"]) > HEARS)
        assert alice.hello["demo"] is False
        http = HttpSession(keyed_stack.base_url)
        await asyncio.to_thread(http.login, ALICE.email, PASSWORD)
        _, page = await asyncio.to_thread(http.get, f"/r/{room.public_id}/")
        messages = json.dumps(alice.heard.messages + bruno.heard.messages)
    keyed_stack.stop()
    logs = "".join(path.read_text(errors="replace") for path in keyed_stack.log_dir.glob("*.log"))
    assert "joined" in logs and room.public_id in page
    for place in (page, messages, logs):
        assert SECRET not in place
        assert SECRET[-16:] not in place


async def test_it_refuses_a_garbage_offer_and_the_worker_goes_on(keyed_stack: Stack) -> None:
    room = await database_sync_to_async(make_room)(ALICE, BRUNO)
    async with (
        participant(keyed_stack, ALICE, room.public_id, 400) as alice,
        participant(keyed_stack, BRUNO, room.public_id, 1000, join=False) as bruno,
    ):
        # Passes the web tier's checks (v=0, an audio section) but is nonsense to WebRTC.
        await bruno.send({"type": "offer", "sdp": "v=0\r\nm=audio 9 RTP/AVP 0\r\na=garbage:\x01\r\n"})
        assert await until(
            lambda: any(m.get("code") == "bad_offer" for m in bruno.heard.messages), timeout=10
        )
        # The same connection then joins properly, and the call works.
        await bruno.join()
        assert await until(lambda: share(alice, 1000 * TONE_FACTORS["en"]) > HEARS)
        assert await until(lambda: share(bruno, 400 * TONE_FACTORS["es"]) > HEARS)
