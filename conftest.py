from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from django.conf import settings

from media_workers.devtools.stack import Coturn


@pytest.fixture(scope="session", autouse=True)
def _clean_redis_prefix() -> Iterator[None]:
    """Delete every Redis key this test run wrote (its prefix is unique to the run)."""
    yield
    prefix = settings.REDIS_KEY_PREFIX
    assert prefix.startswith("ot-test-"), prefix
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="session", autouse=True)
def _loopback_ice() -> None:
    """Peer connections the tests make themselves offer only 127.0.0.1 (ICE_HOST_ADDRESSES), as
    the worker does: ICE checks never go to the machine's other (private) addresses."""
    from media_workers.runtime import ice

    ice.configure_from_settings()


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    """A real coturn on loopback with docker-compose.yml's flags and a secret of its own."""
    running = Coturn(secret="coturn-test-secret").start(tmp_path_factory.mktemp("coturn"))
    try:
        yield running
    finally:
        running.stop()
