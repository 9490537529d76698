"""Whose address the service sees: the connection's, or what our own proxies wrote; never the client's."""

from __future__ import annotations

import re

import pytest

from media_workers.devtools.stack import ROOT
from translator_site.proxy import client_address


@pytest.mark.parametrize(
    ("remote_addr", "forwarded_for", "hops", "seen"),
    [
        # No proxy: whatever the client puts in the header is ignored.
        ("198.51.100.4", "203.0.113.66", 0, "198.51.100.4"),
        ("198.51.100.4", None, 0, "198.51.100.4"),
        # One proxy (the README's): the address it appended, not what the client wrote before it.
        ("172.18.0.1", "203.0.113.66, 198.51.100.4", 1, "198.51.100.4"),
        ("172.18.0.1", "198.51.100.4", 1, "198.51.100.4"),
        # Two proxies (a CDN, then ours): the address the CDN saw.
        ("172.18.0.1", "203.0.113.66, 198.51.100.4, 192.0.2.10", 2, "198.51.100.4"),
        # Fewer entries than proxies: the chain is not what was configured; trust nothing in it.
        ("172.18.0.1", "203.0.113.66", 2, "172.18.0.1"),
        ("172.18.0.1", None, 1, "172.18.0.1"),
    ],
)
def test_it_trusts_exactly_the_configured_proxies(
    remote_addr: str, forwarded_for: str | None, hops: int, seen: str
) -> None:
    assert client_address(remote_addr=remote_addr, forwarded_for=forwarded_for, hops=hops) == seen


def test_it_never_lets_daphne_take_the_address_from_the_header() -> None:
    # daphne's --proxy-headers uses the leftmost X-Forwarded-For entry: the one a client writes.
    compose = (ROOT / "docker-compose.yml").read_text()
    daphne_commands = re.findall(r"command: \[\"daphne\"[^\]]*\]", compose)
    assert daphne_commands
    assert not any("--proxy-headers" in command for command in daphne_commands)
    assert "--proxy-headers" not in (ROOT / "Dockerfile").read_text()
