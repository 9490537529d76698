"""The listener languages as the web tier offers them (the table itself is in the shared contract)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import get_supported_language_variant
from django.utils.translation import gettext_lazy as _

from media_workers.shared.contract import LISTENER_LANGUAGES, OUTPUT_LANGUAGES, TURN_BASED_LANGUAGES

# How the languages a general realtime model interprets (not gpt-realtime-translate) are marked.
TURN_BASED_NOTE = _("Turn-based: you hear each sentence after it ends")

# "I want to hear": the translate model's languages, then the turn-based ones in a marked group.
LANGUAGE_CHOICES: list[tuple[str, Any]] = [
    *OUTPUT_LANGUAGES.items(),
    (TURN_BASED_NOTE, list(TURN_BASED_LANGUAGES.items())),
]
# "I speak": any of them (the translate model and the interpreter understand them all).
SPEAK_CHOICES: list[tuple[str, str]] = list(LISTENER_LANGUAGES.items())
DEFAULT_LANGUAGE = "en"


def language_name(code: str) -> str:
    return LISTENER_LANGUAGES.get(code, code)


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
    return code if code in LISTENER_LANGUAGES else DEFAULT_LANGUAGE
