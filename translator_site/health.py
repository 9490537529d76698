"""Probes for load balancers, Docker and Prometheus: /healthz, /readyz and /metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.deprecation import MiddlewareMixin

from . import metrics

logger = logging.getLogger(__name__)

CHECK_TIMEOUT = 2.0


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. Touches neither the database nor Redis."""
    return JsonResponse({"status": "ok"})


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_redis() -> None:
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=CHECK_TIMEOUT, socket_timeout=CHECK_TIMEOUT
    )
    try:
        client.ping()
    finally:
        client.close()


CHECKS: dict[str, Callable[[], None]] = {"database": check_database, "redis": check_redis}


def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness: the database and Redis answer; 503 naming what failed otherwise."""
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:
            # The body is public: only the error's type; the details go to the log.
            logger.warning("readyz: %s check failed: %s", name, exc)
            results[name] = type(exc).__name__
    failed = [name for name, result in results.items() if result != "ok"]
    body = {"status": "unavailable" if failed else "ok", "failed": failed, "checks": results}
    return JsonResponse(body, status=503 if failed else 200)


PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/healthz": healthz,
    "/readyz": readyz,
    "/metrics": metrics.metrics,
}


class ProbeMiddleware(MiddlewareMixin):
    """Answers the probe paths before ALLOWED_HOSTS and the HTTPS redirect apply.

    Probes address the process by IP over plain HTTP (a Docker healthcheck, a Prometheus
    scrape), with no host name ALLOWED_HOSTS would know; the answers build no URLs, so the
    host check protects nothing here.
    """

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        probe = PROBES.get(request.path_info)
        return probe(request) if probe is not None else None
