"""How django-allauth decides who may sign up, and which address a request comes from."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.http import HttpRequest

from . import selectors


class AccountAdapter(DefaultAccountAdapter):
    """SIGNUP_MODE decides sign-up; staff make accounts in the admin whatever it says."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        if settings.SIGNUP_MODE == "open":
            return True
        if settings.SIGNUP_MODE == "invite":
            # Only someone who opened a room's invite link, while it still lets people in.
            invite = selectors.pending_invite(request.session)
            return invite is not None and selectors.invite_problem(invite) is None
        return False

    def get_client_ip(self, request: HttpRequest) -> str:
        # translator_site.proxy.TrustedProxyMiddleware put the client's address here; allauth's
        # own X-Forwarded-For reading would bypass TRUSTED_PROXY_HOPS.
        return str(request.META["REMOTE_ADDR"])
