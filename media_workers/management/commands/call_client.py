"""`python manage.py call_client`: join a room as a synthetic participant and record what it hears."""

from __future__ import annotations

import asyncio
import urllib.parse
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from media_workers.devtools.call_client import CallClient, HttpSession, ToneTrack, wav_source, write_wav
from media_workers.runtime import ice
from media_workers.shared.contract import LISTENER_LANGUAGES


class Command(BaseCommand):
    help = "Join a room's call from the command line: play a tone or a WAV file, record what you hear."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="The site's base URL.")
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--email", help="Log in with this account (needs --password and --room).")
        who.add_argument("--invite", help="Join as a guest through this invite link.")
        parser.add_argument("--password", default="")
        parser.add_argument("--room", help="The room's public id (the part after /r/ in its URL).")
        parser.add_argument("--name", default="Call client", help="Guest display name.")
        languages = sorted(LISTENER_LANGUAGES)
        parser.add_argument("--language", default="en", choices=languages, help="Guest language.")
        parser.add_argument("--hear", choices=languages, help="Switch listener language on join.")
        sound = parser.add_mutually_exclusive_group()
        sound.add_argument("--tone", type=float, default=440.0, help="Play a steady tone of this many Hz.")
        sound.add_argument("--wav", help="Play this WAV file in a loop.")
        parser.add_argument("--seconds", type=float, default=20.0, help="How long to stay in the call.")
        parser.add_argument("--record", help="Write what this participant hears to this WAV file.")

    def handle(self, *args: Any, **options: Any) -> None:
        # Offer the host addresses this installation's peers use (ICE_HOST_ADDRESSES): the worker
        # accepts only candidates in ICE_ALLOWED_PEER_NETWORKS.
        ice.configure_from_settings()
        asyncio.run(self.call(options))

    async def call(self, options: dict[str, Any]) -> None:
        http = HttpSession(options["url"])
        if options["email"]:
            if not options["room"]:
                raise CommandError("--email needs --room")
            await asyncio.to_thread(http.login, options["email"], options["password"])
            room_id = options["room"]
        else:
            path = urllib.parse.urlsplit(options["invite"]).path
            room_id = await asyncio.to_thread(
                http.join_as_guest, path, name=options["name"], language=options["language"]
            )
        wav, tone = options["wav"], options["tone"]
        client = CallClient(
            base_url=options["url"],
            room_id=room_id,
            http=http,
            source=(lambda: wav_source(wav)) if wav else (lambda: ToneTrack(tone)),
        )
        try:
            hello = await client.connect()
            self.stdout.write(f"joined room {hello['room']['name']!r} as {hello['participant']['name']}")
            await client.join()
            if options["hear"]:
                await client.set_language(options["hear"])
            await asyncio.sleep(options["seconds"])
        finally:
            await client.close()
        audio = client.heard.audio()
        self.stdout.write(f"heard {audio.size / 24000:.1f} s of audio")
        for kind in ("translation", "original"):
            text = client.heard.caption_text(kind)
            if text:
                self.stdout.write(f"{kind} captions: {text[:500]}")
        if options["record"]:
            write_wav(options["record"], audio)
            self.stdout.write(f"wrote {options['record']}")
