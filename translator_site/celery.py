"""The Celery app: usage reports from media workers and periodic housekeeping."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "translator_site.settings")

app = Celery("translator_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect  # type: ignore[untyped-decorator]  # celery ships no type hints
def keep_django_logging(**kwargs: object) -> None:
    """Celery leaves logging alone when this signal has a receiver: Django's LOGGING (JSON,
    redaction) stays the one configuration, instead of Celery adding a second root handler."""
