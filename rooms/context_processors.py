from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, Any]:
    """Values every page needs: whether translation is the demo one, and who may sign up."""
    return {"demo_mode": settings.DEMO_MODE, "signup_mode": settings.SIGNUP_MODE}
