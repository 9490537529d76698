"""The Celery app: usage reports from media workers and periodic housekeeping."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "translator_site.settings")

app = Celery("translator_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
