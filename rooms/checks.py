"""`manage.py check --deploy`: the settings that leave a public site open to abuse."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def unsafe_production_settings(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    warnings = []
    if settings.SIGNUP_MODE == "open":
        warnings.append(
            Warning(
                "SIGNUP_MODE is open: anyone can make an account and spend translation minutes.",
                hint="Set SIGNUP_MODE=invite (accounts only from room invites) or closed (staff only).",
                id="translate.W001",
            )
        )
    if settings.ACCOUNT_EMAIL_VERIFICATION != "mandatory":
        warnings.append(
            Warning(
                "ACCOUNT_EMAIL_VERIFICATION is not mandatory: accounts need no address anyone owns.",
                hint="Set ACCOUNT_EMAIL_VERIFICATION=mandatory (the default with DEBUG=0); set up e-mail.",
                id="translate.W002",
            )
        )
    if settings.GLOBAL_MONTHLY_SPEND_LIMIT is None:
        warnings.append(
            Warning(
                "GLOBAL_MONTHLY_SPEND_LIMIT is not set: nothing bounds the site's translation spending.",
                hint="Set the most you will pay OpenAI in a month, in MODEL_PRICES_PER_MINUTE's currency.",
                id="translate.W003",
            )
        )
    if settings.DEMO_MODE:
        warnings.append(
            Warning(
                "Demo mode is on: calls are 'translated' by the local stand-in, not by OpenAI.",
                hint="Set OPENAI_API_KEY, and remove DEMO_MODE=1.",
                id="translate.W004",
            )
        )
    elif not settings.OPENAI_API_KEY:
        warnings.append(
            Warning(
                "OPENAI_API_KEY is not set: media workers refuse to start.",
                hint="Set OPENAI_API_KEY.",
                id="translate.W005",
            )
        )
    if settings.TRUSTED_PROXY_HOPS == 0:
        warnings.append(
            Warning(
                "TRUSTED_PROXY_HOPS is 0: behind a reverse proxy every visitor has the proxy's address, so "
                "per-address rate limits (log-in, sign-up, invite links) lump everyone together.",
                hint="Set TRUSTED_PROXY_HOPS to the number of proxies that append to X-Forwarded-For "
                "(1 for the README's setup); the service must be reachable only through them.",
                id="translate.W006",
            )
        )
    if not settings.ICE_HOST_ADDRESSES:
        warnings.append(
            Warning(
                "ICE_HOST_ADDRESSES is empty: media workers advertise every address of every interface "
                "(docker0, VPC and other private addresses included) to every browser.",
                hint="Set ICE_HOST_ADDRESSES to the address browsers reach the media workers at.",
                id="translate.W007",
            )
        )
    return warnings
