"""`python manage.py media_worker`: run one media-worker process until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from media_workers.runtime.metrics import MetricsServer
from media_workers.runtime.worker import MediaWorker


class Command(BaseCommand):
    help = "Run a media worker: hosts calls, relays audio to OpenAI Realtime Translation."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--id", dest="worker_id", default=None, help="Worker id (default: host-pid-random)."
        )
        parser.add_argument("--capacity", type=int, default=None, help="Rooms this worker takes at most.")
        parser.add_argument(
            "--metrics-port",
            default=None,
            help="Port of /healthz and /metrics: N, a range A-B (the first free one) or 0 (any free);"
            " default MEDIA_WORKER_METRICS_PORT.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.OPENAI_API_KEY and not settings.DEMO_MODE:
            # Not a silent demo in production: people would hear pitch-shifted voices, not translation.
            raise CommandError(
                "OPENAI_API_KEY is not set. Set it to translate with OpenAI; demo mode (the local "
                "stand-in translator) runs only with DEBUG=1 or DEMO_MODE=1."
            )
        asyncio.run(
            self.serve(
                worker_id=options["worker_id"],
                capacity=options["capacity"],
                metrics_port=options["metrics_port"] or settings.MEDIA_WORKER_METRICS_PORT,
            )
        )

    async def serve(self, *, worker_id: str | None, capacity: int | None, metrics_port: str) -> None:
        worker = MediaWorker(worker_id=worker_id, capacity=capacity)
        metrics = MetricsServer(worker)
        await metrics.start(host=settings.MEDIA_WORKER_METRICS_HOST, ports=metrics_port)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, worker.stop)
        try:
            await worker.run()
        finally:
            await metrics.stop()
