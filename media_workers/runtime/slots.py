"""Places for translation sessions per room owner, shared by every media worker through Redis.

An owner's rooms may be hosted by different workers, so the count lives in Redis: one
sorted set per owner whose members are session ids scored by when they expire. Taking a
place is one Lua script (count and add at once, so two workers never both take the last
one); the holding worker renews its entries with every heartbeat, so the places of a
worker that dies free themselves within MEDIA_WORKER_HEARTBEAT_TTL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import redis.asyncio as aioredis
from django.conf import settings

from media_workers.runtime.translation import TranslationSession

logger = logging.getLogger(__name__)

# KEYS[1]: the owner's set. ARGV: session id, limit, lifetime (ms). Redis's own clock, so the
# workers' clocks need not agree. Returns 1 if the session holds a place now.
_ACQUIRE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
  return 1
end
return 0
"""

# KEYS: owners' sets; ARGV: lifetime (ms), then for each key the number of its sessions and their ids.
_RENEW = """
local t = redis.call('TIME')
local expires = t[1] * 1000 + math.floor(t[2] / 1000) + tonumber(ARGV[1])
local i = 2
for _, key in ipairs(KEYS) do
  local n = tonumber(ARGV[i])
  for j = 1, n do redis.call('ZADD', key, 'XX', expires, ARGV[i + j]) end
  redis.call('PEXPIRE', key, tonumber(ARGV[1]))
  i = i + n + 1
end
return 1
"""


class OwnerSlots:
    """MAX_TRANSLATION_SESSIONS_PER_OWNER, counted across every worker."""

    def __init__(self, client: aioredis.Redis, *, prefix: str) -> None:
        self.redis = client
        self.prefix = prefix
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)

    def _key(self, payer_id: int) -> str:
        return f"{self.prefix}owner:{payer_id}:sessions"

    def _lifetime_ms(self) -> int:
        return int(settings.MEDIA_WORKER_HEARTBEAT_TTL * 1000)

    async def acquire(self, session: TranslationSession) -> bool:
        if session.payer_id is None:
            return True
        try:
            held = await self._acquire(
                keys=[self._key(session.payer_id)],
                args=[session.id, settings.MAX_TRANSLATION_SESSIONS_PER_OWNER, self._lifetime_ms()],
            )
        except Exception:
            # Redis away: the call keeps its translation rather than lose it to a blip.
            logger.warning(
                "room=%s %r: cannot count the owner's sessions", session.room_id, session, exc_info=True
            )
            return True
        return bool(held)

    async def release(self, session: TranslationSession) -> None:
        if session.payer_id is None:
            return
        try:
            await self.redis.zrem(self._key(session.payer_id), session.id)
        except Exception:
            # The entry expires by itself once this worker stops renewing it.
            logger.warning("room=%s %r: cannot free its place", session.room_id, session, exc_info=True)

    async def renew(self, sessions: Iterable[TranslationSession]) -> None:
        """Keep the places of these sessions (called with every heartbeat)."""
        by_payer: dict[int, list[str]] = {}
        for session in sessions:
            if session.holds_slot and session.payer_id is not None:
                by_payer.setdefault(session.payer_id, []).append(session.id)
        if not by_payer:
            return
        args: list[str | int] = [self._lifetime_ms()]
        for ids in by_payer.values():
            args += [len(ids), *ids]
        await self._renew(keys=[self._key(payer) for payer in by_payer], args=args)
