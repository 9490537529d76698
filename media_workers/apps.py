from __future__ import annotations

from django.apps import AppConfig


class MediaWorkersConfig(AppConfig):
    name = "media_workers"
    verbose_name = "Media workers"

    def ready(self) -> None:
        from django.core.checks import Tags, register

        from .checks import ice_host_addresses_check

        register(ice_host_addresses_check, Tags.security, deploy=True)
