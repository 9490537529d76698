"""Log output: one JSON object per line in production, and secrets masked in every record.

Both are wired into LOGGING in settings: the formatter by LOG_FORMAT, the filter on the
console handler, so it sees every record of every logger that reaches the root.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

REDACTED = "[redacted]"
# Invite links carry their token in the path (/i/<token>/); tokens are token_urlsafe(24).
INVITE_TOKEN = re.compile(r"(/i/)[A-Za-z0-9_-]{8,}")
# Anything shaped like an OpenAI key, configured here or not.
OPENAI_KEY = re.compile(r"\bsk-[A-Za-z0-9_-]{16,}")
# Attributes every LogRecord has; anything else on a record came from `extra=`.
STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class RedactFilter(logging.Filter):
    """Masks the OpenAI API key and invite tokens in a record's message, arguments and traceback."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__()
        configured = secrets if secrets is not None else [settings.OPENAI_API_KEY]
        self.secrets = [s for s in configured if s]

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        text = OPENAI_KEY.sub(REDACTED, text)
        return INVITE_TOKEN.sub(r"\1" + REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for name, value in vars(record).items():
            if name not in STANDARD_ATTRIBUTES and isinstance(value, str):
                setattr(record, name, self.redact(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, pid, message, and any `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in STANDARD_ATTRIBUTES and not name.startswith("_"):
                entry[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)
