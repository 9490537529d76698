"""Log records: the OpenAI key and invite tokens never reach the output; JSON in production."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from django.test import override_settings

from translator_site.logs import JsonFormatter, RedactFilter

KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"
TOKEN = "Zq3xY_8-kL0pAbCdEfGhIjKlMnOpQrSt"


@pytest.fixture
def output() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    with override_settings(OPENAI_API_KEY=KEY):
        handler.addFilter(RedactFilter())
    logger = logging.getLogger("tests.ops.logs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_it_redacts_the_openai_key_in_messages_and_arguments(
    output: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = output
    logger.warning("calling with Authorization: Bearer %s", KEY)
    logger.warning(f"key={KEY}")
    text = stream.getvalue()
    assert KEY not in text
    assert [r["message"] for r in records(stream)] == [
        "calling with Authorization: Bearer [redacted]",
        "key=[redacted]",
    ]


def test_it_redacts_invite_tokens_in_urls(output: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = output
    logger.info("GET %s", f"https://translate.example.org/i/{TOKEN}/?next=/")
    logger.info("guest opened /i/%s/", TOKEN, extra={"path": f"/i/{TOKEN}/", "room": "abc"})
    assert TOKEN not in stream.getvalue()
    first, second = records(stream)
    assert first["message"] == "GET https://translate.example.org/i/[redacted]/?next=/"
    assert second["path"] == "/i/[redacted]/"
    assert second["room"] == "abc"


def test_it_redacts_tracebacks(output: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = output
    try:
        raise RuntimeError(f"bad key {KEY} for /i/{TOKEN}/")
    except RuntimeError:
        logger.exception("request failed")
    assert KEY not in stream.getvalue() and TOKEN not in stream.getvalue()
    [record] = records(stream)
    assert "RuntimeError: bad key [redacted] for /i/[redacted]/" in str(record["exception"])


def test_it_writes_one_json_object_per_record_with_extra_fields(
    output: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = output
    logger.info("room=%s participant=%s joined", "r1", "p2", extra={"room": "r1", "participant": "p2"})
    [record] = records(stream)
    assert record["message"] == "room=r1 participant=p2 joined"
    assert record["level"] == "INFO"
    assert record["logger"] == "tests.ops.logs"
    assert (record["room"], record["participant"]) == ("r1", "p2")
    assert {"time", "pid"} <= record.keys()


def test_it_leaves_ordinary_paths_alone() -> None:
    assert (
        RedactFilter(secrets=[]).redact("GET /r/abc/ and /static/i/x.png")
        == "GET /r/abc/ and /static/i/x.png"
    )
