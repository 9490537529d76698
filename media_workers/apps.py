from __future__ import annotations

from django.apps import AppConfig


class MediaWorkersConfig(AppConfig):
    name = "media_workers"
    verbose_name = "Media workers"
