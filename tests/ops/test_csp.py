"""Every page carries a Content-Security-Policy that allows only this site."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_it_sends_a_content_security_policy_with_every_page(client: Client) -> None:
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in policy
    assert directives["media-src"] == "'self' blob:"
    assert directives["connect-src"].startswith("'self'")
    assert directives["frame-ancestors"] == "'none'"
