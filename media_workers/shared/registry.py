"""The media-worker registry in Redis: live workers, their load, and which worker hosts each room.

A worker is alive while its hash exists; the hash expires unless the worker's heartbeat
renews it. A web process that finds a worker dead before that (its heartbeat is late and it
does not answer a ping) marks it lost: it gets no rooms, and its rooms are freed at once.
A room's assignment names one worker; claiming a room is one Lua script, so two web
processes that race for the same room always agree, and a room whose worker died is given
to another live worker on the next claim.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis.asyncio as aioredis
from django.conf import settings
from redis.typing import EncodableT, FieldT

# KEYS: none (keys are derived from the prefix); ARGV: prefix, room id.
# Returns the worker id hosting the room, or false when no live worker has room to spare.
_CLAIM = """
local prefix, room = ARGV[1], ARGV[2]
local room_key = prefix .. 'room:' .. room
local current = redis.call('GET', room_key)
if current then
  local h = prefix .. 'worker:' .. current
  if redis.call('EXISTS', h) == 1 and redis.call('HGET', h, 'draining') ~= '1'
      and redis.call('HGET', h, 'lost') ~= '1' then
    return current
  end
end
local ids = redis.call('ZRANGE', prefix .. 'workers', 0, -1)
for _, id in ipairs(ids) do
  local h = prefix .. 'worker:' .. id
  if redis.call('EXISTS', h) == 0 then
    redis.call('ZREM', prefix .. 'workers', id)
    redis.call('DEL', h .. ':rooms')
  elseif redis.call('HGET', h, 'draining') ~= '1' and redis.call('HGET', h, 'lost') ~= '1'
      and redis.call('SCARD', h .. ':rooms') < tonumber(redis.call('HGET', h, 'capacity')) then
    if current then redis.call('SREM', prefix .. 'worker:' .. current .. ':rooms', room) end
    redis.call('SET', room_key, id)
    redis.call('SADD', h .. ':rooms', room)
    local load = redis.call('SCARD', h .. ':rooms')
    redis.call('HSET', h, 'load', load)
    redis.call('ZADD', prefix .. 'workers', load, id)
    return id
  end
end
return false
"""

# ARGV: prefix, worker id, room id. Frees the room only if this worker still holds it.
_RELEASE = """
local prefix, id, room = ARGV[1], ARGV[2], ARGV[3]
local room_key = prefix .. 'room:' .. room
if redis.call('GET', room_key) == id then redis.call('DEL', room_key) end
local h = prefix .. 'worker:' .. id
redis.call('SREM', h .. ':rooms', room)
if redis.call('EXISTS', h) == 1 then
  local load = redis.call('SCARD', h .. ':rooms')
  redis.call('HSET', h, 'load', load)
  redis.call('ZADD', prefix .. 'workers', load, id)
end
return 1
"""

# ARGV: prefix, worker id. Marks a live-looking worker lost and frees every room it held.
_MARK_LOST = """
local prefix, id = ARGV[1], ARGV[2]
local h = prefix .. 'worker:' .. id
if redis.call('EXISTS', h) == 0 then return 0 end
redis.call('HSET', h, 'lost', '1', 'load', 0)
for _, room in ipairs(redis.call('SMEMBERS', h .. ':rooms')) do
  if redis.call('GET', prefix .. 'room:' .. room) == id then redis.call('DEL', prefix .. 'room:' .. room) end
end
redis.call('DEL', h .. ':rooms')
return 1
"""


@dataclass(frozen=True)
class WorkerInfo:
    """A live media worker as the registry sees it."""

    id: str
    host: str
    pid: int
    channel: str
    capacity: int
    load: int
    participants: int
    sessions: int
    draining: bool
    heartbeat_age: float
    # A web process found it dead before its heartbeat expired (Registry.mark_lost).
    lost: bool = False


def key_prefix() -> str:
    return f"{settings.REDIS_KEY_PREFIX}mw:"


def connect() -> aioredis.Redis:
    return aioredis.Redis.from_url(settings.REDIS_URL, decode_responses=True)


class Registry:
    """Reads and writes the worker registry; one instance per process and event loop."""

    def __init__(self, client: aioredis.Redis | None = None) -> None:
        self.redis = client or connect()
        self.prefix = key_prefix()
        self._claim = self.redis.register_script(_CLAIM)
        self._release = self.redis.register_script(_RELEASE)
        self._mark_lost = self.redis.register_script(_MARK_LOST)

    def _worker_key(self, worker_id: str) -> str:
        return f"{self.prefix}worker:{worker_id}"

    async def heartbeat(
        self,
        *,
        worker_id: str,
        host: str,
        pid: int,
        channel: str,
        capacity: int,
        participants: int,
        sessions: int,
        draining: bool,
        ttl: float,
    ) -> None:
        """Announce (or renew) a worker; it stays alive for `ttl` seconds unless renewed."""
        key = self._worker_key(worker_id)
        load = await self.redis.scard(f"{key}:rooms")
        fields: dict[FieldT, EncodableT] = {
            "id": worker_id,
            "host": host,
            "pid": pid,
            "channel": channel,
            "capacity": capacity,
            "load": load,
            "participants": participants,
            "sessions": sessions,
            "draining": "1" if draining else "0",
            # A worker marked lost that still beats was only slow: it takes rooms again.
            "lost": "0",
            "heartbeat_at": time.time(),
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=fields)
            pipe.pexpire(key, int(ttl * 1000))
            pipe.pexpire(f"{key}:rooms", int(ttl * 1000) * 10)
            pipe.zadd(f"{self.prefix}workers", {worker_id: load})
            await pipe.execute()

    async def unregister(self, worker_id: str) -> None:
        """Remove a worker and free every room it held, so they go elsewhere at once."""
        key = self._worker_key(worker_id)
        rooms = await self.redis.smembers(f"{key}:rooms")
        for room in rooms:
            await self.release_room(worker_id=worker_id, room_id=str(room))
        await self.redis.delete(key, f"{key}:rooms")
        await self.redis.zrem(f"{self.prefix}workers", worker_id)

    async def claim_room(self, room_id: str) -> WorkerInfo | None:
        """The live worker hosting `room_id`, assigning the least loaded one if needed."""
        worker_id = await self._claim(args=[self.prefix, room_id])
        if not worker_id:
            return None
        return await self.worker(worker_id)

    async def mark_lost(self, worker_id: str) -> None:
        """Take a worker found dead out of room assignment now, rather than when its hash expires."""
        await self._mark_lost(args=[self.prefix, worker_id])

    async def release_room(self, *, worker_id: str, room_id: str) -> None:
        await self._release(args=[self.prefix, worker_id, room_id])

    async def room_worker_id(self, room_id: str) -> str | None:
        value = await self.redis.get(f"{self.prefix}room:{room_id}")
        return None if value is None else str(value)

    async def worker(self, worker_id: str) -> WorkerInfo | None:
        data = await self.redis.hgetall(self._worker_key(worker_id))
        if not data:
            return None
        return WorkerInfo(
            id=str(data["id"]),
            host=str(data["host"]),
            pid=int(data["pid"]),
            channel=str(data["channel"]),
            capacity=int(data["capacity"]),
            load=int(data["load"]),
            participants=int(data.get("participants", 0)),
            sessions=int(data.get("sessions", 0)),
            draining=data.get("draining") == "1",
            heartbeat_age=max(0.0, time.time() - float(data["heartbeat_at"])),
            lost=data.get("lost") == "1",
        )

    async def workers(self) -> list[WorkerInfo]:
        """Every live worker, least loaded first."""
        ids = await self.redis.zrange(f"{self.prefix}workers", 0, -1)
        found = [await self.worker(str(worker_id)) for worker_id in ids]
        return [info for info in found if info is not None]

    async def rooms(self) -> dict[str, str]:
        """Every room assignment: room id to the id of the worker it names, alive or not."""
        prefix = f"{self.prefix}room:"
        keys = [str(key) async for key in self.redis.scan_iter(match=f"{prefix}*", count=500)]
        if not keys:
            return {}
        worker_ids = await self.redis.mget(keys)
        # An assignment released between the scan and the read is left out.
        return {
            key[len(prefix) :]: str(worker_id)
            for key, worker_id in zip(keys, worker_ids, strict=True)
            if worker_id is not None
        }

    async def close(self) -> None:
        await self.redis.aclose()
