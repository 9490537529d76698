"""The worker registry against the real Redis (under this test run's own key prefix)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from media_workers.shared.registry import Registry


@pytest.fixture
async def registry() -> AsyncIterator[Registry]:
    registry = Registry()
    registry.prefix = f"{registry.prefix}{id(registry)}:"
    yield registry
    keys = [key async for key in registry.redis.scan_iter(match=f"{registry.prefix}*")]
    if keys:
        await registry.redis.delete(*keys)
    await registry.close()


async def announce(registry: Registry, worker_id: str, *, capacity: int = 10, ttl: float = 5.0) -> None:
    await registry.heartbeat(
        worker_id=worker_id,
        host="host",
        pid=1,
        channel=f"channel-{worker_id}",
        capacity=capacity,
        participants=0,
        sessions=0,
        draining=False,
        ttl=ttl,
    )


async def test_it_assigns_a_room_to_a_live_worker_and_keeps_it_there(registry: Registry) -> None:
    await announce(registry, "w1")
    first = await registry.claim_room("room-a")
    again = await registry.claim_room("room-a")
    assert first is not None and again is not None
    assert first.id == again.id == "w1"
    assert first.channel == "channel-w1"
    assert (await registry.worker("w1")).load == 1  # type: ignore[union-attr]


async def test_it_gives_new_rooms_to_the_least_loaded_worker(registry: Registry) -> None:
    await announce(registry, "w1")
    await announce(registry, "w2")
    hosts = [(await registry.claim_room(f"room-{i}")).id for i in range(6)]  # type: ignore[union-attr]
    assert hosts.count("w1") == hosts.count("w2") == 3


async def test_it_agrees_on_one_worker_when_many_claim_a_room_at_once(registry: Registry) -> None:
    for name in ("w1", "w2", "w3"):
        await announce(registry, name)
    claims = await asyncio.gather(*(registry.claim_room("busy-room") for _ in range(20)))
    assert len({claim.id for claim in claims if claim is not None}) == 1
    workers = await registry.workers()
    assert sum(w.load for w in workers) == 1


async def test_it_moves_a_room_when_its_worker_stops_heartbeating(registry: Registry) -> None:
    await announce(registry, "dying", ttl=0.3)
    assert (await registry.claim_room("room-a")).id == "dying"  # type: ignore[union-attr]
    await announce(registry, "healthy")
    await asyncio.sleep(0.5)
    moved = await registry.claim_room("room-a")
    assert moved is not None and moved.id == "healthy"
    assert [w.id for w in await registry.workers()] == ["healthy"]


async def test_it_refuses_rooms_when_every_worker_is_full(registry: Registry) -> None:
    await announce(registry, "w1", capacity=1)
    assert await registry.claim_room("room-a") is not None
    assert await registry.claim_room("room-b") is None
    await registry.release_room(worker_id="w1", room_id="room-a")
    assert (await registry.claim_room("room-b")).id == "w1"  # type: ignore[union-attr]


async def test_it_skips_a_draining_worker_and_frees_its_rooms_on_unregister(registry: Registry) -> None:
    await announce(registry, "w1")
    assert (await registry.claim_room("room-a")).id == "w1"  # type: ignore[union-attr]
    await registry.heartbeat(
        worker_id="w1",
        host="h",
        pid=1,
        channel="c",
        capacity=10,
        participants=0,
        sessions=0,
        draining=True,
        ttl=5,
    )
    assert await registry.claim_room("room-b") is None
    await announce(registry, "w2")
    assert (await registry.claim_room("room-a")).id == "w2"  # type: ignore[union-attr]
    await registry.unregister("w2")
    assert await registry.room_worker_id("room-a") is None


async def test_it_lists_every_room_assignment(registry: Registry) -> None:
    assert await registry.rooms() == {}
    await announce(registry, "w1", capacity=1)
    await announce(registry, "w2", capacity=1)
    await registry.claim_room("room-a")
    await registry.claim_room("room-b")
    assert await registry.rooms() == {"room-a": "w1", "room-b": "w2"}
    # An assignment outlives its worker's heartbeat until the room is claimed again or released.
    await registry.redis.delete(f"{registry.prefix}worker:w2")
    assert await registry.rooms() == {"room-a": "w1", "room-b": "w2"}
    await registry.release_room(worker_id="w1", room_id="room-a")
    assert await registry.rooms() == {"room-b": "w2"}


async def test_it_gives_a_lost_workers_rooms_to_others_at_once_until_it_beats_again(
    registry: Registry,
) -> None:
    await announce(registry, "dead", ttl=30)
    assert (await registry.claim_room("room-a")).id == "dead"  # type: ignore[union-attr]
    await announce(registry, "healthy")
    await registry.mark_lost("dead")
    assert await registry.room_worker_id("room-a") is None
    assert (await registry.worker("dead")).lost  # type: ignore[union-attr]
    assert (await registry.claim_room("room-a")).id == "healthy"  # type: ignore[union-attr]
    assert (await registry.claim_room("room-b")).id == "healthy"  # type: ignore[union-attr]
    # Only slow after all: its next heartbeat makes it a candidate for rooms again.
    await announce(registry, "dead", ttl=30)
    assert not (await registry.worker("dead")).lost  # type: ignore[union-attr]
    assert (await registry.claim_room("room-c")).id == "dead"  # type: ignore[union-attr]
