"""Fixtures shared by the media worker's in-process tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from media_workers.fake_openai import FakeOpenAIServer


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAIServer]:
    """The fake OpenAI server in `tone` mode, in this test's event loop."""
    server = FakeOpenAIServer(mode="tone")
    await server.start()
    yield server
    await server.stop()
