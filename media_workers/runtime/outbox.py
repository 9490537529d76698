"""What the worker hands to the web tier through Celery: usage reports and finished utterances.

One queue per kind, drained in order by one coroutine; each send runs in a thread, because
publishing to the broker blocks, and must never hold up the event loop that carries the audio.
The receiving tasks are idempotent (on the session's or the utterance's id), so Celery may retry.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)


def send_to_celery(task: str, payload: dict[str, Any]) -> None:
    from translator_site.celery import app

    # Celery retries the broker connection itself; the task is idempotent.
    app.send_task(task, kwargs={"report": payload}, retry=True)


class CeleryOutbox:
    """Delivers payloads to one Celery task in order, off the audio path."""

    def __init__(
        self,
        *,
        task: str,
        what: str,
        worker_id: str,
        send: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.worker_id = worker_id
        self._what = what
        self._send = send or functools.partial(send_to_celery, task)
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=10_000)

    def put(self, payload: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait(payload)
        except asyncio.QueueFull:
            logger.error(
                "worker=%s room=%s: %s queue full, dropped one",
                self.worker_id,
                payload["room_id"],
                self._what,
            )

    async def _deliver(self, payload: dict[str, Any]) -> None:
        try:
            await asyncio.to_thread(self._send, payload)
        except Exception:
            logger.warning(
                "worker=%s room=%s: %s not sent",
                self.worker_id,
                payload["room_id"],
                self._what,
                exc_info=True,
            )

    async def run(self) -> None:
        while True:
            await self._deliver(await self._queue.get())

    async def flush(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (at shutdown), within `timeout` seconds."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not self._queue.empty() and asyncio.get_running_loop().time() < deadline:
            await self._deliver(self._queue.get_nowait())
