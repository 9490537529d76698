"""/healthz and /readyz: answered by address over plain HTTP, before the host check."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from media_workers.devtools.stack import free_port

pytestmark = pytest.mark.django_db


def test_it_answers_healthz_without_the_database(client: Client, django_assert_num_queries: object) -> None:
    with django_assert_num_queries(0):  # type: ignore[operator]
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_it_is_ready_when_the_database_and_redis_answer(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "failed": [], "checks": {"database": "ok", "redis": "ok"}}


def test_it_is_not_ready_when_redis_does_not_answer(client: Client) -> None:
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failed"] == ["redis"]
    assert body["checks"]["database"] == "ok"
    assert "127.0.0.1" not in response.content.decode()


@override_settings(ALLOWED_HOSTS=["translate.example.org"], SECURE_SSL_REDIRECT=True)
def test_it_answers_probes_by_address_over_http_in_production(client: Client) -> None:
    assert client.get("/healthz", HTTP_HOST="10.0.0.5:8000").status_code == 200
    assert client.get("/readyz", HTTP_HOST="10.0.0.5:8000").status_code == 200
    # Everything else still gets the host check.
    assert client.get("/accounts/login/", HTTP_HOST="10.0.0.5:8000").status_code == 400
