"""`python manage.py make_dev_cert`: a local CA and an HTTPS certificate (see devtools/dev_cert.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from media_workers.devtools.dev_cert import lan_address, make_server_cert


class Command(BaseCommand):
    help = "Create a local CA (once) and an HTTPS certificate for localhost and this machine's LAN address."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dir",
            default=str(settings.BASE_DIR / "artifacts" / "tls"),
            help="Where the files go (default artifacts/tls).",
        )
        parser.add_argument(
            "--host",
            action="append",
            default=[],
            help="Another name or address for the certificate (repeatable).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        directory = Path(options["dir"])
        directory.mkdir(parents=True, exist_ok=True)
        hosts = ["localhost", "127.0.0.1", "::1"]
        lan = lan_address()
        for host in [lan, *options["host"]]:
            if host and host not in hosts:
                hosts.append(host)
        new_ca = make_server_cert(directory, hosts)
        self.stdout.write(f"certificate for {', '.join(hosts)}: {directory / 'server.pem'}")
        if new_ca:
            self.stdout.write(f"new CA: trust it on your phone (once): {directory / 'ca.pem'}")
        else:
            self.stdout.write(f"signed by the CA your phone may already trust: {directory / 'ca.pem'}")
