from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

# The site's accent colour (static/css/site.css): a phone's status bar and a home-screen app's splash.
THEME_COLOUR = "#1f5fd6"


def site(request: HttpRequest) -> dict[str, Any]:
    """Values every page needs: whether translation is the demo one, who may sign up, the theme colour."""
    return {
        "demo_mode": settings.DEMO_MODE,
        "signup_mode": settings.SIGNUP_MODE,
        "theme_colour": THEME_COLOUR,
    }
