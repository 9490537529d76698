"""The listener languages as the web tier offers them (the table itself is in the shared contract)."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import get_supported_language_variant

from media_workers.shared.contract import OUTPUT_LANGUAGES

LANGUAGE_CHOICES: list[tuple[str, str]] = list(OUTPUT_LANGUAGES.items())
DEFAULT_LANGUAGE = "en"


def language_name(code: str) -> str:
    return OUTPUT_LANGUAGES.get(code, code)


def page_language(*, chosen: str, hears: str) -> str:
    """The pages' language (a code of settings.LANGUAGES) for someone who chose `chosen` (or
    nothing) and hears `hears` ("zh" is "zh-hans"); English for a language the pages lack."""
    try:
        return str(get_supported_language_variant(chosen or hears))
    except LookupError:
        return str(settings.LANGUAGE_CODE)


def listener_language(page_code: str) -> str:
    """The listener language of a page language ("zh-hans" is "zh"); English if it has none."""
    code = page_code.split("-")[0]
    return code if code in OUTPUT_LANGUAGES else DEFAULT_LANGUAGE
