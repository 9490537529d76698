"""`python manage.py fake_openai`: run the local stand-in for OpenAI until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from media_workers.devtools.fake_openai import MODES, SESSION_LIFETIME_S, FakeOpenAIServer


class Command(BaseCommand):
    help = "Run a local fake of OpenAI Realtime Translation (tests, and demo mode without a key)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.FAKE_OPENAI_HOST, help="Address to listen on.")
        parser.add_argument(
            "--port", type=int, default=settings.FAKE_OPENAI_PORT, help="Port to listen on (0: any free one)."
        )
        parser.add_argument("--mode", choices=MODES, default="demo", help="What the fake translates into.")
        parser.add_argument(
            "--delay-ms",
            type=int,
            default=0,
            help="Hold every output this long before sending it (the real model answers ~1500 ms late).",
        )
        parser.add_argument(
            "--session-lifetime",
            type=float,
            default=SESSION_LIFETIME_S,
            help="Seconds until each session expires (session_expired error, then close 1001).",
        )
        parser.add_argument(
            "--no-expires-at",
            action="store_true",
            help="Leave expires_at out of session.created: sessions then expire unannounced.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            server = FakeOpenAIServer(
                options["host"],
                options["port"],
                options["mode"],
                options["delay_ms"],
                session_lifetime_s=options["session_lifetime"],
                announce_expiry=not options["no_expires_at"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        asyncio.run(self.serve(server))

    async def serve(self, server: FakeOpenAIServer) -> None:
        await server.start()
        # One line on stdout, flushed, so whoever started us can read the URL (and a port 0 choice).
        self.stdout.write(f"fake OpenAI ({server.mode} mode) listening on {server.base_url}")
        self.stdout.flush()
        serving = asyncio.create_task(server.serve_forever())
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, serving.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await serving
