"""Faults the service survives, each against real processes: what the user sees, and how long
recovery took (written to artifacts/resilience.json so a person can read the figures).

Recovery deadlines here are generous bounds derived from the settings, not speed targets:
the figures themselves are recorded, and the benchmarks are where speed is judged.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async

from media_workers.devtools.call_client import CallClient, until
from media_workers.devtools.dsp import SAMPLE_RATE, band_energy
from media_workers.devtools.fake_openai import TONE_FACTORS
from media_workers.devtools.stack import ROOT, Stack, free_port, wait_until
from tests.support.calls import HEARS, participant, share
from tests.support.people import Person
from tests.support.rooms import make_room
from tests.support.stack import redis_answers, running_stack

pytestmark = [pytest.mark.resilience, pytest.mark.django_db(transaction=True)]

ALICE = Person("alice@example.com", "Alice", "en")
BRUNO = Person("bruno@example.com", "Bruno", "es")
CARLA = Person("carla@example.com", "Carla", "fr")
ALICE_IN_SPANISH = 400 * TONE_FACTORS["es"]
BRUNO_IN_ENGLISH = 1000 * TONE_FACTORS["en"]
FAST_FAILOVER = {
    "MEDIA_WORKER_HEARTBEAT_SECONDS": "0.5",
    "MEDIA_WORKER_HEARTBEAT_TTL": "2",
    "WORKER_WATCH_SECONDS": "0.5",
}
RESULTS = ROOT / "artifacts" / "resilience.json"

StackFactory = Callable[..., Stack]


def record(name: str, seconds: float) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    figures = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    figures[name] = round(seconds, 2)
    RESULTS.write_text(json.dumps(figures, indent=2, sort_keys=True))


def hears(client: CallClient, freq: float, since: float) -> bool:
    """`client` has heard at least a second of audio since `since`, and it is mostly `freq`."""
    audio = client.heard.audio(since=since)[-SAMPLE_RATE:]
    return audio.size == SAMPLE_RATE and band_energy(audio, SAMPLE_RATE, freq, 25) > HEARS


def both_hear_each_other(alice: CallClient, bruno: CallClient, since: float) -> Callable[[], bool]:
    return lambda: hears(bruno, ALICE_IN_SPANISH, since) and hears(alice, BRUNO_IN_ENGLISH, since)


def statuses(client: CallClient) -> list[str]:
    return [m["status"] for m in client.heard.messages if m["type"] == "translation"]


def errors(client: CallClient) -> list[str]:
    return [m["code"] for m in client.heard.messages if m["type"] == "error"]


@pytest.fixture
def make_stack(django_db_setup: None) -> Iterator[StackFactory]:
    with ExitStack() as stacks:

        def start(**options: Any) -> Stack:
            return stacks.enter_context(running_stack(fake_mode="tone", **options))

        yield start


@asynccontextmanager
async def alice_and_bruno(stack: Stack) -> AsyncIterator[tuple[str, CallClient, CallClient]]:
    """Alice (en, 400 Hz) and Bruno (es, 1000 Hz) in a call, hearing each other's translation."""
    room = await database_sync_to_async(make_room)(ALICE, BRUNO)
    async with AsyncExitStack() as clients:
        alice = await clients.enter_async_context(participant(stack, ALICE, room.public_id, 400))
        bruno = await clients.enter_async_context(participant(stack, BRUNO, room.public_id, 1000))
        assert await until(both_hear_each_other(alice, bruno, 0.0))
        yield room.public_id, alice, bruno


async def test_it_moves_a_call_when_its_worker_is_killed(make_stack: StackFactory) -> None:
    # Default settings: a late heartbeat gets the worker pinged, and no answer moves the call.
    stack = make_stack(workers=2)
    async with alice_and_bruno(stack) as (room_id, alice, bruno):
        host = stack.room_worker(room_id)
        assert host in ("worker0", "worker1")
        await asyncio.to_thread(stack.kill, host, signal.SIGKILL)
        # Stamped once the worker is dead: nothing it sent can count as recovery.
        killed = time.monotonic()
        assert await until(lambda: bool(alice.rejoined and bruno.rejoined))
        moved = max(alice.rejoined[-1], bruno.rejoined[-1])
        record("worker_sigkill_calls_moved_s", moved - killed)
        assert await until(both_hear_each_other(alice, bruno, moved))
        # A late heartbeat (1.5 s) + a check (0.5 s) + an unanswered ping (1 s) + rejoin, with
        # a wide margin for a busy machine; bench/failover.py measures it.
        assert moved - killed < 15
        assert stack.room_worker(room_id) not in (None, host)
        assert errors(alice) == errors(bruno) == []


async def test_it_moves_calls_without_a_failed_connection_when_a_worker_stops(
    make_stack: StackFactory,
) -> None:
    stack = make_stack(workers=2, extra_env={**FAST_FAILOVER, "MEDIA_WORKER_DRAIN_SECONDS": "2"})
    async with alice_and_bruno(stack) as (room_id, alice, bruno):
        host = stack.room_worker(room_id)
        assert host is not None
        stopped = time.monotonic()
        stack.processes[host].send_signal(signal.SIGTERM)
        assert await until(lambda: bool(alice.rejoined and bruno.rejoined))
        moved = max(alice.rejoined[-1], bruno.rejoined[-1])
        record("worker_sigterm_calls_moved_s", moved - stopped)
        assert await until(both_hear_each_other(alice, bruno, moved))
        assert await asyncio.to_thread(stack.processes[host].wait, 20) == 0
        assert [m["reason"] for m in alice.heard.messages if m["type"] == "reconnect"] == ["moving"]
        assert errors(alice) == errors(bruno) == []
        assert stack.room_worker(room_id) not in (None, host)


async def test_it_cleans_up_a_participant_who_vanishes(make_stack: StackFactory) -> None:
    stack = make_stack(extra_env={"PARTICIPANT_SILENCE_TIMEOUT": "2"})
    async with alice_and_bruno(stack) as (_, alice, bruno):
        # Network loss: Bruno's packets stop, with no goodbye on the websocket or in WebRTC.
        assert bruno.track is not None
        bruno.track.recv = asyncio.get_running_loop().create_future  # type: ignore[method-assign]
        vanished = time.monotonic()

        def alice_alone() -> bool:
            state = [m for m in alice.heard.messages if m["type"] == "state"][-1]
            return [p["name"] for p in state["participants"]] == ["Alice"] and state["sessions"] == []

        assert await until(alice_alone, timeout=15)
        record("vanished_participant_cleanup_s", time.monotonic() - vanished)
        # Its translation sessions are closed at OpenAI too: nothing is metered for it any more.
        assert await until(lambda: json.loads(stack.fake_control("stats"))["sessions"] == [], timeout=10)


@pytest.mark.parametrize("fault", ["drop", "stall"])
async def test_it_reconnects_one_failing_translation_and_leaves_the_other_alone(
    make_stack: StackFactory, fault: str
) -> None:
    stack = make_stack(extra_env={"TRANSLATION_STALL_SECONDS": "2"})
    async with alice_and_bruno(stack) as (_, alice, bruno):
        told_alice = statuses(alice)
        broke = time.monotonic()
        query = "drop?language=es" if fault == "drop" else "stall?seconds=60&language=es"
        await asyncio.to_thread(stack.fake_control, query)
        assert await until(lambda: "reconnecting" in statuses(bruno), timeout=15)
        assert await until(
            lambda: statuses(bruno)[-1] == "live" and hears(bruno, ALICE_IN_SPANISH, time.monotonic() - 1.0)
        )
        record(f"openai_{fault}_recovery_s", time.monotonic() - broke)
        # Alice's translation (Bruno into English) never stopped, and she was told nothing new.
        assert statuses(alice) == told_alice
        heard = alice.heard.audio(since=broke)
        half_second = SAMPLE_RATE // 2
        for start in range(0, heard.size - half_second, half_second):
            window = heard[start : start + half_second]
            assert band_energy(window, SAMPLE_RATE, BRUNO_IN_ENGLISH, 25) > HEARS


async def test_it_keeps_translating_through_an_openai_error_event(make_stack: StackFactory) -> None:
    stack = make_stack()
    async with alice_and_bruno(stack) as (_, alice, bruno):
        told_alice = statuses(alice)
        await asyncio.to_thread(stack.fake_control, "error?code=server_error&message=Injected&language=es")
        assert await until(lambda: "error" in statuses(bruno), timeout=10)
        after = time.monotonic()
        assert await until(lambda: hears(bruno, ALICE_IN_SPANISH, after))
        assert statuses(alice) == told_alice


async def test_it_says_busy_for_a_new_room_when_every_worker_is_full(make_stack: StackFactory) -> None:
    stack = make_stack(worker_capacity=1)
    async with alice_and_bruno(stack) as (_, _alice, bruno):
        room = await database_sync_to_async(make_room)(CARLA)
        async with participant(stack, CARLA, room.public_id, 700, join=False) as carla:
            with pytest.raises(RuntimeError, match="busy"):
                await carla.join()
            assert errors(carla) == ["busy"]
        # The call already running is untouched.
        assert await until(lambda: share(bruno, ALICE_IN_SPANISH) > HEARS)


async def test_it_recovers_calls_in_progress_when_redis_restarts(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    port = free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    server = await asyncio.to_thread(subprocess.Popen, command, cwd=tmp_path, stdout=subprocess.DEVNULL)
    try:
        wait_until(lambda: redis_answers(port), 10, "a private Redis")
        stack = make_stack(redis_url=f"redis://127.0.0.1:{port}/0", extra_env=FAST_FAILOVER)
        async with alice_and_bruno(stack) as (_, alice, bruno):
            server.terminate()
            server.wait(timeout=10)
            restarted = time.monotonic()
            server = await asyncio.to_thread(
                subprocess.Popen, command, cwd=tmp_path, stdout=subprocess.DEVNULL
            )
            wait_until(lambda: redis_answers(port), 10, "the private Redis again")
            # The media path never touches Redis: both keep hearing each other throughout.
            assert await until(both_hear_each_other(alice, bruno, restarted))
            # Signalling works again once the worker has re-registered: a language change lands.
            assert await until(lambda: stack.live_workers() != [], timeout=10)
            changed = time.monotonic()
            await bruno.set_language("de")
            assert await until(lambda: hears(bruno, 400 * TONE_FACTORS["de"], changed), timeout=20)
            record("redis_restart_language_change_s", time.monotonic() - changed)
    finally:
        server.terminate()
        server.wait(timeout=10)
