"""The client's address, from the connection or from trusted reverse proxies only.

Every proxy appends the address it was connected from to X-Forwarded-For, so the entry
TRUSTED_PROXY_HOPS places from the right was written by our own outermost proxy; anything
to its left came from the client and proves nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


def client_address(*, remote_addr: str, forwarded_for: str | None, hops: int) -> str:
    """The address of whoever connected to our outermost trusted proxy (or to us, with no proxy)."""
    if hops == 0 or not forwarded_for:
        return remote_addr
    entries = [entry.strip() for entry in forwarded_for.split(",")]
    if len(entries) < hops:
        # Fewer proxies than configured wrote here: nothing in the header can be trusted.
        return remote_addr
    return entries[-hops] or remote_addr


class TrustedProxyMiddleware:
    """Sets REMOTE_ADDR to the client's address, so rate limits and logs all see the same one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.META["REMOTE_ADDR"] = client_address(
            remote_addr=request.META.get("REMOTE_ADDR", ""),
            forwarded_for=request.META.get("HTTP_X_FORWARDED_FOR"),
            hops=settings.TRUSTED_PROXY_HOPS,
        )
        return self.get_response(request)
