from __future__ import annotations

from django.apps import AppConfig


class MediaWorkersConfig(AppConfig):
    name = "media_workers"
    verbose_name = "Media workers"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the deploy checks)
