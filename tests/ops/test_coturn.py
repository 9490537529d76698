"""coturn as docker-compose.yml configures it, run for real on loopback: who it lets relay, and where to.

A TURN client here is aioice's (the library aiortc gathers relay candidates with). Asking
coturn for a permission to a peer sends nothing to that peer, so the refused addresses below
(private, loopback, link-local) never see a packet.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aioice import stun
from aioice.turn import TurnClientUdpProtocol

from media_workers.devtools.stack import Coturn
from media_workers.shared.ice import turn_credentials

CHANNEL = 0x4000
# REQUESTED-TRANSPORT values (RFC 8656): the protocol number in the first byte.
TCP_TRANSPORT = 0x06000000


@asynccontextmanager
async def turn_client(coturn: Coturn, username: str, password: str) -> AsyncIterator[TurnClientUdpProtocol]:
    loop = asyncio.get_running_loop()
    server = ("127.0.0.1", coturn.port)
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: TurnClientUdpProtocol(server, username=username, password=password, lifetime=60,
                                      channel_refresh_time=60),
        remote_addr=server,
    )  # fmt: skip
    try:
        yield protocol
    finally:
        # Give the allocation back: coturn keeps one for its lifetime, and a later test whose
        # socket gets the same port would meet it (437 "Mismatched allocation") instead of the
        # answer it asks about.
        if protocol.relayed_address is not None:
            await asyncio.wait_for(protocol.delete(), timeout=10)
        transport.close()


def error_code(exc: pytest.ExceptionInfo[stun.TransactionFailed]) -> int:
    return int(exc.value.response.attributes["ERROR-CODE"][0])


class Inbox:
    """What the TURN client hands on from the relay (aioice calls it the receiver)."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.put_nowait(data)


class Echo(asyncio.DatagramProtocol):
    """A UDP peer on loopback that sends every datagram back: stands in for the media worker."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(data, addr)  # type: ignore[attr-defined]


async def test_it_relays_to_the_media_worker_with_the_web_tiers_credentials(coturn: Coturn) -> None:
    loop = asyncio.get_running_loop()
    echo, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
    worker = echo.get_extra_info("sockname")
    inbox = Inbox()
    try:
        async with turn_client(coturn, *turn_credentials(secret=coturn.secret, user_id=7, ttl=600)) as client:
            relayed = await client.connect()
            assert relayed[0] == "127.0.0.1"
            client.receiver = inbox
            await client.send_data(b"hello worker", worker)
            assert await asyncio.wait_for(inbox.received.get(), 5) == b"hello worker"
    finally:
        echo.close()


async def test_it_refuses_an_expired_credential(coturn: Coturn) -> None:
    expired = turn_credentials(secret=coturn.secret, user_id=7, ttl=60, now=time.time() - 3600)
    async with turn_client(coturn, *expired) as client:
        with pytest.raises(stun.TransactionFailed) as refused:
            await client.connect()
    assert error_code(refused) == 401


async def test_it_refuses_a_forged_credential(coturn: Coturn) -> None:
    username, _ = turn_credentials(secret=coturn.secret, user_id=7, ttl=600)
    _, forged = turn_credentials(secret="guessed-secret", user_id=7, ttl=600)
    async with turn_client(coturn, username, forged) as client:
        with pytest.raises(stun.TransactionFailed) as refused:
            await client.connect()
    assert error_code(refused) == 401


@pytest.mark.parametrize(
    "peer",
    [
        "127.0.0.2",  # loopback, but not the workers' address
        "10.1.2.3",
        "172.17.0.1",  # Docker's bridge
        "192.168.1.1",
        "100.64.0.1",  # CGNAT
        "169.254.169.254",  # cloud metadata service
        "198.18.0.1",  # benchmarking
        "192.0.2.10",  # documentation: any address that is not a media worker
    ],
)
async def test_it_refuses_to_relay_to_any_address_but_the_media_workers(coturn: Coturn, peer: str) -> None:
    async with turn_client(coturn, *turn_credentials(secret=coturn.secret, user_id=7, ttl=600)) as client:
        await client.connect()
        with pytest.raises(stun.TransactionFailed) as refused:
            await client.channel_bind(CHANNEL, (peer, 9))
    assert error_code(refused) == 403


async def test_it_refuses_tcp_relays(coturn: Coturn) -> None:
    async with turn_client(coturn, *turn_credentials(secret=coturn.secret, user_id=7, ttl=600)) as client:
        request = stun.Message(message_method=stun.Method.ALLOCATE, message_class=stun.Class.REQUEST)
        request.attributes["REQUESTED-TRANSPORT"] = TCP_TRANSPORT
        with pytest.raises(stun.TransactionFailed) as refused:
            await client.request_with_retry(request)
    assert error_code(refused) == 442


def test_it_runs_the_compose_files_flags(coturn: Coturn, tmp_path: Path) -> None:
    command = coturn.command(tmp_path)
    for flag in ("--use-auth-secret", "--no-tcp-relay", "--denied-peer-ip=0.0.0.0-255.255.255.255",
                 "--allowed-peer-ip=127.0.0.1", f"--static-auth-secret={coturn.secret}"):  # fmt: skip
        assert flag in command
    assert any(flag.startswith("--max-bps=") for flag in command)
