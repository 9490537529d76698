"""Template helpers: language names and the invite QR code."""

from __future__ import annotations

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
