"""The media worker's /healthz and /metrics, and the web's /metrics, during a real call."""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.request
from collections.abc import Callable, Iterator

import pytest
from channels.db import database_sync_to_async

from media_workers.devtools.call_client import CallClient, HttpSession, ToneTrack
from media_workers.devtools.stack import Stack, free_port
from media_workers.runtime.metrics import parse_ports
from tests.support.people import PASSWORD, Person
from tests.support.rooms import make_room
from tests.support.stack import running_stack

ALICE = Person("alice@example.com", "Alice", "en")
BRUNO = Person("bruno@example.com", "Bruno", "es")


@pytest.fixture(scope="module")
def metrics_stack(django_db_setup: None) -> Iterator[tuple[Stack, int]]:
    port = free_port()
    with running_stack(extra_env={"MEDIA_WORKER_METRICS_PORT": str(port)}) as running:
        yield running, port


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


async def scrape_until(url: str, predicate: Callable[[str], bool], timeout: float = 30.0) -> str:
    """Scrape `url` (off the event loop the call runs on) until `predicate` holds; its last text."""
    deadline = time.monotonic() + timeout
    while True:
        text = await asyncio.to_thread(fetch, url)
        if predicate(text) or time.monotonic() > deadline:
            return text
        await asyncio.sleep(0.2)


def value(text: str, sample: str) -> float:
    match = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
async def test_it_counts_a_call_in_the_worker_and_web_metrics(metrics_stack: tuple[Stack, int]) -> None:
    stack, port = metrics_stack
    worker_url = f"http://127.0.0.1:{port}"
    health = json.loads(await asyncio.to_thread(fetch, f"{worker_url}/healthz"))
    assert health["status"] == "ok" and health["draining"] is False

    room = await database_sync_to_async(make_room)(ALICE, BRUNO)
    clients = []
    try:
        for person, tone in ((ALICE, 400.0), (BRUNO, 1000.0)):
            http = HttpSession(stack.base_url)
            await asyncio.to_thread(http.login, person.email, PASSWORD)
            client = CallClient(
                base_url=stack.base_url, room_id=room.public_id, http=http, source=lambda t=tone: ToneTrack(t)
            )
            clients.append(client)
            await client.connect()
            await client.join()

        text = await scrape_until(
            f"{worker_url}/metrics",
            lambda t: value(t, "translate_worker_first_translated_audio_seconds_count") >= 2,
        )
        assert value(text, "translate_worker_first_translated_audio_seconds_count") >= 2
        assert value(text, 'translate_worker_peer_connections{state="connected"}') == 2
        assert value(text, 'translate_worker_translation_sessions{status="live"}') == 2
        assert value(text, "translate_worker_calls") == 1
        assert value(text, "translate_worker_audio_frames_in_total") > 0
        assert value(text, "translate_worker_audio_frames_out_total") > 0
        for name in (
            "translate_worker_audio_frames_late_total",
            "translate_worker_playout_underruns_total",
            "translate_worker_playout_overrun_samples_total",
            "translate_worker_openai_errors_total",
            "translate_worker_openai_reconnects_total",
            "process_resident_memory_bytes",
        ):
            assert f"\n{name} " in text, name

        web = await asyncio.to_thread(fetch, f"{stack.base_url}/metrics")
        assert value(web, "translate_websocket_connections") == 2
    finally:
        for client in clients:
            await client.close()

    frames_out = value(text, "translate_worker_audio_frames_out_total")
    after = await scrape_until(f"{worker_url}/metrics", lambda t: value(t, "translate_worker_calls") == 0)
    assert value(after, "translate_worker_calls") == 0
    # The counters of the participants who left are kept: counters never go down.
    assert value(after, "translate_worker_audio_frames_out_total") >= frames_out


def test_it_reads_a_port_a_range_or_any() -> None:
    assert parse_ports("9100") == [9100]
    assert parse_ports("9100-9102") == [9100, 9101, 9102]
    assert parse_ports("0") == [0]
    for bad in ("", "x", "9102-9100", "70000"):
        with pytest.raises(ValueError):
            parse_ports(bad)
