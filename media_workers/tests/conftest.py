"""Fixtures shared by the media worker's in-process tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiortc import RTCPeerConnection

from media_workers.devtools.fake_openai import FakeOpenAIServer


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAIServer]:
    """The fake OpenAI server in `tone` mode, in this test's event loop."""
    server = FakeOpenAIServer(mode="tone")
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def peers() -> AsyncIterator[list[RTCPeerConnection]]:
    made: list[RTCPeerConnection] = []
    yield made
    await asyncio.gather(*(pc.close() for pc in made))
