"""The web process's /metrics: Prometheus text for loopback (or METRICS_ALLOWED_IPS), nobody else."""

from __future__ import annotations

from django.test import Client, override_settings

from translator_site import metrics


def test_it_serves_the_signalling_metrics_to_loopback(client: Client) -> None:
    metrics.signalling_error("rate_limited")
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert "translate_websocket_connections " in text
    assert 'translate_signalling_errors_total{code="rate_limited"}' in text


def test_it_refuses_other_addresses(client: Client) -> None:
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403


def test_it_refuses_requests_that_came_through_a_proxy(client: Client) -> None:
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert response.status_code == 403


@override_settings(METRICS_ALLOWED_IPS=["10.1.0.0/16"])
def test_it_serves_the_networks_metrics_allowed_ips_names(client: Client) -> None:
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
