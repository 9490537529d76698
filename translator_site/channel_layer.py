"""The channel layer: channels_redis's, made to ride out a Redis restart instead of failing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.exceptions
from channels_redis.core import RedisChannelLayer as BaseRedisChannelLayer

logger = logging.getLogger(__name__)

UNAVAILABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
# A send retries this often: the first command after a restart meets a stale pooled connection.
SEND_ATTEMPTS = 4

T = TypeVar("T")


class RedisChannelLayer(BaseRedisChannelLayer):  # type: ignore[misc]
    """Receiving waits while Redis is away; sending retries briefly, then fails.

    channels_redis re-raises connection errors, and channels then closes every websocket whose
    consumer was waiting (1011): one Redis restart would drop every call's signalling.
    """

    async def receive(self, channel: str) -> dict[str, Any]:
        delay = 0.2
        while True:
            try:
                message: dict[str, Any] = await super().receive(channel)
                return message
            except UNAVAILABLE as exc:
                logger.warning(
                    "channel layer: Redis unavailable (%s), retrying in %.1f s", type(exc).__name__, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(SEND_ATTEMPTS):
            try:
                return await call()
            except UNAVAILABLE:
                if attempt == SEND_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.1 * 2**attempt)
        raise AssertionError("unreachable")

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        await self._retrying(lambda: super(RedisChannelLayer, self).send(channel, message))

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        await self._retrying(lambda: super(RedisChannelLayer, self).group_send(group, message))

    async def group_add(self, group: str, channel: str) -> None:
        await self._retrying(lambda: super(RedisChannelLayer, self).group_add(group, channel))

    async def group_discard(self, group: str, channel: str) -> None:
        await self._retrying(lambda: super(RedisChannelLayer, self).group_discard(group, channel))
