"""The Celery application. Tasks live in each app's tasks.py (autodiscovered),
take ids, re-fetch their rows and call one service (STYLE.md)."""

import logging
import os
from pathlib import Path

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dcc.settings.base")

# filesystem:// (the embedded broker) writes whole messages: dcc.broker_filesystem.
TRANSPORT_ALIASES["filesystem"] = "dcc.broker_filesystem:Transport"

logger = logging.getLogger(__name__)

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


# ---------------------------------------------------------------- the broker, seen from the web

# A publish tries twice (a pooled connection that went stale is opened again
# once), then gives up: a web request must not wait on a broker that is down.
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
BROKER_CHECK_TIMEOUT = 2.0  # seconds, for /healthz


def enqueue_on_commit(task, *args, **kwargs) -> None:
    """Run ``task(*args, **kwargs)`` on a worker once the current transaction
    commits (at once outside one), tolerating a broker outage.

    The write that asked for the task is committed by then, so a broker error
    must not turn it into an error page (a client retrying a 500 would do it
    twice): the error is logged and the task is not sent. Only work that a
    periodic sweep finds again from the database may be enqueued this way
    (the SMS outbox: ``followups.tasks.dispatch_due_sms``, every minute,
    hands out every due message still pending)."""
    from django.db import transaction

    transaction.on_commit(lambda: _publish(task, args, kwargs))


def _publish(task, args, kwargs) -> bool:
    try:
        task.apply_async(args=args, kwargs=kwargs, retry=True, retry_policy=PUBLISH_RETRY)
    except Exception:  # any broker or result-backend failure: the sweep sends it later
        logger.exception("broker unavailable: %s%r not enqueued", task.name, args)
        return False
    return True


def broker_reachable(timeout: float = BROKER_CHECK_TIMEOUT) -> bool:
    """Whether the broker answers now: a connection (and, for Redis, a PING)
    bounded by ``timeout`` seconds, for /healthz."""
    options = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    try:
        with app.connection_for_write(connect_timeout=timeout, transport_options=options) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
            conn.default_channel  # noqa: B018 - opening the channel is the check (Redis PINGs)
    except Exception:
        logger.warning("broker unreachable", exc_info=True)
        return False
    return True
