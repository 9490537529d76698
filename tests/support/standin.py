"""A stand-in media worker: a test announced in Redis as a live worker, and what it is sent."""

from __future__ import annotations

import asyncio
from typing import Any

from asgiref.sync import async_to_sync

from media_workers.shared.contract import Message, parse
from media_workers.shared.registry import Registry
from rooms.models import Room


async def announce_worker(
    worker_id: str,
    *,
    channel: str,
    host: str = "h",
    capacity: int = 5,
    participants: int = 0,
    sessions: int = 0,
    draining: bool = False,
    ttl: float = 30,
) -> None:
    """Register a stand-in media worker (a test listening on `channel`) as live in Redis."""
    registry = Registry()
    await registry.heartbeat(
        worker_id=worker_id,
        host=host,
        pid=1,
        channel=channel,
        capacity=capacity,
        participants=participants,
        sessions=sessions,
        draining=draining,
        ttl=ttl,
    )
    await registry.close()


async def retire_worker(worker_id: str) -> None:
    """Remove a stand-in media worker and free its rooms."""
    registry = Registry()
    await registry.unregister(worker_id)
    await registry.close()


def host(room: Room) -> None:
    """Assign the room to the live worker, as a signalling connection's offer does."""

    async def claim() -> None:
        registry = Registry()
        assert await registry.claim_room(room.public_id) is not None
        await registry.close()

    async_to_sync(claim)()


def receive(layer: Any, channel: str) -> Message:
    """The next message to the worker, as the contract's type (ContractError if it does not fit)."""

    async def get() -> dict[str, Any]:
        return await asyncio.wait_for(layer.receive(channel), 5)  # type: ignore[no-any-return]

    return parse(async_to_sync(get)())
