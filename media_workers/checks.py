"""`manage.py check --deploy` warnings about the media workers' network settings (registered in apps.py)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning


def ice_host_addresses_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    if settings.ICE_HOST_ADDRESSES:
        return []
    return [
        Warning(
            "ICE_HOST_ADDRESSES is empty: media workers advertise every address of every interface "
            "(docker0, VPC and other private addresses included) to every browser.",
            hint="Set ICE_HOST_ADDRESSES to the address browsers reach the media workers at.",
            id="media_workers.W001",
        )
    ]
