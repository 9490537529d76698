"""ICE servers as the web tier hands them to browsers: ICE_SERVERS plus per-user TURN credentials.

The worker's own ICE configuration (aiortc, aioice) is in media_workers/runtime/ice.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from django.conf import settings


def turn_credentials(*, secret: str, user_id: object, ttl: int, now: float | None = None) -> tuple[str, str]:
    """A time-limited TURN username and password (TURN REST API, coturn's `use-auth-secret`).

    coturn recomputes the password from the username with the shared secret and refuses
    it once the expiry time in the username has passed; nothing is stored anywhere.
    """
    expiry = int(now if now is not None else time.time()) + ttl
    username = f"{expiry}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def browser_ice_servers(user_id: object) -> list[dict[str, Any]]:
    """The servers a browser's RTCPeerConnection takes: ICE_SERVERS, plus TURN for this user."""
    servers = [dict(server) for server in settings.ICE_SERVERS]
    if settings.TURN_URLS and settings.TURN_SECRET:
        username, credential = turn_credentials(
            secret=settings.TURN_SECRET, user_id=user_id, ttl=settings.TURN_TTL_SECONDS
        )
        servers.append({"urls": list(settings.TURN_URLS), "username": username, "credential": credential})
    return servers
