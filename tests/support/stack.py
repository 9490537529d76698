"""The one way tests start the service's real processes (daphne, media workers, the fake OpenAI)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from django.conf import settings

from media_workers.devtools.stack import Stack


def database_url() -> str:
    """The test database as a URL the subprocesses can open (after pytest-django created it)."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{host}/{db['NAME']}"


@contextmanager
def running_stack(**options: Any) -> Iterator[Stack]:
    """A stack on the test database (`options`: Stack's), stopped however the block ends."""
    stack = Stack(database_url=database_url(), **options).start()
    try:
        yield stack
    finally:
        stack.stop()


def redis_answers(port: int, password: str | None = None) -> bool:
    """Whether a Redis on 127.0.0.1:`port` answers a PING."""
    client = redis.Redis(host="127.0.0.1", port=port, password=password, socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False
    finally:
        client.close()
