"""The web process's Prometheus metrics, served at /metrics to the addresses METRICS_ALLOWED_IPS names."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, generate_latest

WEBSOCKET_CONNECTIONS = Gauge(
    "translate_websocket_connections", "Signalling websockets open on this web process."
)
SIGNALLING_ERRORS = Counter(
    "translate_signalling_errors", "Errors sent to pages over signalling, by error code.", ["code"]
)


def websocket_opened() -> None:
    WEBSOCKET_CONNECTIONS.inc()


def websocket_closed() -> None:
    WEBSOCKET_CONNECTIONS.dec()


def signalling_error(code: str) -> None:
    SIGNALLING_ERRORS.labels(code).inc()


def metrics_allowed(request: HttpRequest) -> bool:
    """Only the listed addresses, and never through a proxy: behind one, every request comes
    from the proxy's address (often 127.0.0.1), so the header is what gives it away."""
    if "HTTP_X_FORWARDED_FOR" in request.META:
        return False
    try:
        client = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(client in ipaddress.ip_network(entry, strict=False) for entry in settings.METRICS_ALLOWED_IPS)


def metrics(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        return JsonResponse({"error": "forbidden"}, status=403)
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
