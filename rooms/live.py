"""The live state of calls, from the media-worker registry in Redis, for sync code (tasks, admin).

Each function opens a registry, uses it and closes it: a Redis connection pool belongs to
one event loop, and `async_to_sync` runs each call in a loop of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from media_workers.shared.contract import EndCall, KeepTranscripts, Leave, Message, TranslationBlocked
from media_workers.shared.registry import Registry, WorkerInfo

logger = logging.getLogger(__name__)

T = TypeVar("T")


def _with_registry(use: Callable[[Registry], Awaitable[T]]) -> T:
    async def run() -> T:
        registry = Registry()
        try:
            return await use(registry)
        finally:
            await registry.close()

    return async_to_sync(run)()


@dataclass(frozen=True)
class LiveNumbers:
    """What is happening right now, summed over the live media workers."""

    workers: list[WorkerInfo]

    @property
    def calls(self) -> int:
        return sum(worker.load for worker in self.workers)

    @property
    def participants(self) -> int:
        return sum(worker.participants for worker in self.workers)

    @property
    def sessions(self) -> int:
        return sum(worker.sessions for worker in self.workers)

    @property
    def capacity(self) -> int:
        return sum(worker.capacity for worker in self.workers)


def live_numbers() -> LiveNumbers:
    return LiveNumbers(workers=_with_registry(lambda registry: registry.workers()))


def room_channels() -> dict[str, str]:
    """Rooms hosted by a live media worker, each with that worker's channel."""

    async def find(registry: Registry) -> dict[str, str]:
        channels = {worker.id: worker.channel for worker in await registry.workers()}
        assignments = await registry.rooms()
        return {room: channels[worker_id] for room, worker_id in assignments.items() if worker_id in channels}

    return _with_registry(find)


def send_translation_blocked(
    *, channel: str, room_id: str, reason: str | None, payer_id: int | None = None
) -> None:
    """Tell a media worker to stop translation in the room (a reason) or allow it again (None),
    and who pays for the translations it starts from now on (the room's owner)."""
    async_to_sync(get_channel_layer().send)(
        channel, TranslationBlocked(room_id=room_id, blocked=reason, payer_id=payer_id).to_dict()
    )
    logger.info("room=%s: told its worker translation is %s", room_id, "off" if reason else "on")


def _room_worker_channel(room_id: str) -> str | None:
    """The channel of the live media worker hosting the room's call, if one does."""

    async def find(registry: Registry) -> str | None:
        worker_id = await registry.room_worker_id(room_id)
        worker = None if worker_id is None else await registry.worker(worker_id)
        return None if worker is None else worker.channel

    return _with_registry(find)


def _tell_worker(room_id: str, message: Message) -> bool:
    """Send the media worker hosting the room's call a message; False if none hosts it."""
    channel = _room_worker_channel(room_id)
    if channel is None:
        return False
    async_to_sync(get_channel_layer().send)(channel, message.to_dict())
    return True


def tell_worker_participant_left(*, room_id: str, participant_id: str) -> bool:
    """Make the room's media worker drop this participant's peer connection; False if none hosts it."""
    told = _tell_worker(
        room_id,
        Leave(room_id=room_id, participant_id=participant_id),
    )
    if told:
        logger.info("room=%s participant=%s: told its worker they left", room_id, participant_id)
    return told


def tell_room_translation_blocked(*, room_id: str, reason: str | None, payer_id: int | None = None) -> bool:
    """Tell the media worker hosting the room to stop (or allow) translation; False if none hosts it."""
    channel = _room_worker_channel(room_id)
    if channel is None:
        return False
    send_translation_blocked(channel=channel, room_id=room_id, reason=reason, payer_id=payer_id)
    return True


def tell_worker_keep_transcripts(*, room_id: str, keep: bool) -> bool:
    """Tell the media worker hosting the room to keep (or stop keeping) transcripts; False if none."""
    told = _tell_worker(room_id, KeepTranscripts(room_id=room_id, keep=keep))
    if told:
        logger.info("room=%s: told its worker transcripts are %s", room_id, "on" if keep else "off")
    return told


def end_call(*, room_id: str) -> bool:
    """Tell the media worker hosting the room to end its call now; False if none hosts it."""
    told = _tell_worker(room_id, EndCall(room_id=room_id))
    if told:
        logger.info("room=%s: told its worker to end the call", room_id)
    return told


def rooms_without_live_worker(room_public_ids: list[str]) -> list[str]:
    """Those of these rooms that no live media worker hosts."""

    async def check(registry: Registry) -> list[str]:
        orphans = []
        for room_id in room_public_ids:
            worker_id = await registry.room_worker_id(room_id)
            if worker_id is None or await registry.worker(worker_id) is None:
                orphans.append(room_id)
        return orphans

    return _with_registry(check)


def release_rooms_of_dead_workers() -> int:
    """Delete room assignments that name a worker which is no longer alive; returns how many."""

    async def release(registry: Registry) -> int:
        released = 0
        for room_id, worker_id in (await registry.rooms()).items():
            if await registry.worker(worker_id) is None:
                # Frees it only if that dead worker still holds it (no race with a new claim).
                await registry.release_room(worker_id=worker_id, room_id=room_id)
                released += 1
        return released

    return _with_registry(release)
