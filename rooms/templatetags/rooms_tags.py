"""Template helpers: language names, the invite QR code, lengths and times of calls."""

from __future__ import annotations

from datetime import timedelta

import segno
from django import template
from django.utils.safestring import SafeString, mark_safe

from ..languages import language_name

register = template.Library()


@register.filter
def language(code: str) -> str:
    """A language code as its native name, e.g. "de" -> "Deutsch"."""
    return language_name(code)


@register.simple_tag
def qr_svg(data: str) -> SafeString:
    """An inline SVG QR code for `data`, drawn on the server so no script or outside service is needed."""
    qr = segno.make(data, error="m")
    # segno escapes the title; the path holds only coordinates, so the markup is safe to inline.
    svg = qr.svg_inline(
        scale=4,
        border=2,
        dark="#111",
        light="#fff",
        svgclass="qr",
        omitsize=True,
        title="QR code of the invite link",
    )
    return mark_safe(svg)


@register.filter
def minutes(seconds: float | None) -> int:
    """A length in whole minutes, at least one (a call of 20 seconds lasted "1 minute")."""
    return max(1, round((seconds or 0) / 60))


@register.filter
def clock(delta: timedelta) -> str:
    """A time from a call's start as h:mm:ss."""
    total = int(delta.total_seconds())
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"
