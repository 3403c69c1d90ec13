"""The Celery application. Tasks live in each app's tasks.py (autodiscovered),
take ids, re-fetch their rows and call one service (STYLE.md)."""

import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dcc.settings.base")

app = Celery("dcc")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_configure.connect
def _make_broker_folders(sender, **kwargs):
    """The filesystem broker and beat need their folders before first use.
    Read from Django's settings: ``sender.conf`` is still being built while
    this signal runs (reading it recurses)."""
    from django.conf import settings

    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {}
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)
    schedule = getattr(settings, "CELERY_BEAT_SCHEDULE_FILENAME", "")
    if schedule:
        Path(schedule).parent.mkdir(parents=True, exist_ok=True)
    backend = str(getattr(settings, "CELERY_RESULT_BACKEND", "") or "")
    if backend.startswith("file://"):
        Path(backend.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
