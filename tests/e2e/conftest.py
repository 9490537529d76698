"""The end-to-end suite's stack: real processes, the fake OpenAI in tone mode, for each module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from media_workers.devtools.stack import Stack
from tests.support.stack import running_stack


@pytest.fixture(scope="module")
def stack(django_db_setup: None) -> Iterator[Stack]:
    with running_stack(fake_mode="tone") as running:
        yield running
