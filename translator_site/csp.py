"""The Content-Security-Policy header (Django 5.2 has none built in)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.deprecation import MiddlewareMixin


class ContentSecurityPolicyMiddleware(MiddlewareMixin):
    """Adds settings.CONTENT_SECURITY_POLICY to every response that has none of its own."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if settings.CONTENT_SECURITY_POLICY and "Content-Security-Policy" not in response.headers:
            response.headers["Content-Security-Policy"] = settings.CONTENT_SECURITY_POLICY
        return response
