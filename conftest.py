from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.conf import settings
from django.core.management.base import CommandError
from django.core.management.commands import flush
from django.db import OperationalError

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


@pytest.fixture(scope="session", autouse=True)
def _flush_outlasts_deadlocks() -> Iterator[None]:
    """Retry the flush between transactional tests when PostgreSQL breaks a deadlock against it.

    The e2e stacks' own processes (daphne noting a participant's leave, Celery storing a final
    usage report) may still be writing when a test ends; TRUNCATE then can deadlock with them,
    and PostgreSQL may pick the flush as the victim. A moment later those writes are done.
    """
    handle = flush.Command.handle

    def handle_retrying_deadlocks(self: flush.Command, **options: Any) -> None:
        for attempt in range(5):
            try:
                return handle(self, **options)
            except CommandError as exc:
                cause = exc.__cause__
                if attempt == 4 or not (isinstance(cause, OperationalError) and "deadlock" in str(cause)):
                    raise
                time.sleep(0.5)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(flush.Command, "handle", handle_retrying_deadlocks)
        yield
