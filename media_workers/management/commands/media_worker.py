"""`python manage.py media_worker`: run one media-worker process until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from media_workers.worker import MediaWorker


class Command(BaseCommand):
    help = "Run a media worker: hosts calls, relays audio to OpenAI Realtime Translation."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--id", dest="worker_id", default=None, help="Worker id (default: host-pid-random)."
        )
        parser.add_argument("--capacity", type=int, default=None, help="Rooms this worker takes at most.")

    def handle(self, *args: Any, **options: Any) -> None:
        asyncio.run(self.serve(worker_id=options["worker_id"], capacity=options["capacity"]))

    async def serve(self, *, worker_id: str | None, capacity: int | None) -> None:
        worker = MediaWorker(worker_id=worker_id, capacity=capacity)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, worker.stop)
        await worker.run()
