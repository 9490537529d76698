"""The listener languages as the web tier offers them (the table itself is in the shared contract)."""

from __future__ import annotations

from media_workers.shared.contract import OUTPUT_LANGUAGES

LANGUAGE_CHOICES: list[tuple[str, str]] = list(OUTPUT_LANGUAGES.items())
DEFAULT_LANGUAGE = "en"


def language_name(code: str) -> str:
    return OUTPUT_LANGUAGES.get(code, code)
