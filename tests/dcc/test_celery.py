"""A real Celery worker on the configured broker (Redis in CI, the filesystem
transport without REDIS_URL): no eager mode, no mocks."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from dcc.celery import app
from dcc.models import Heartbeat
from dcc.tasks import heartbeat, ping
from tests.broker import broker_unreachable


@pytest.fixture(scope="module")
def worker():
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as w:
        yield w


def test_reliability_settings():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_always_eager is False
    assert app.conf.broker_url == settings.CELERY_BROKER_URL


def test_worker_round_trip(worker):
    result = ping.delay()
    assert result.get(timeout=20) == "pong"


@pytest.mark.django_db(transaction=True)
def test_worker_writes_to_the_database(worker):
    heartbeat.delay()
    deadline = time.monotonic() + 20
    while not Heartbeat.objects.filter(name="celery").exists():
        assert time.monotonic() < deadline, "the worker never ran the heartbeat task"
        time.sleep(0.1)


def test_heartbeat_is_scheduled_by_beat():
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["dcc.heartbeat"]["task"] == heartbeat.name


@pytest.mark.redis
def test_redis_redelivers_only_after_the_longest_wait():
    """Redis hands an unacknowledged task out again after the visibility
    timeout: it must outlast the longest task and the longest retry countdown
    (an SMS retry), or a late-acknowledged task would run twice."""
    from followups.sms import RETRY_BACKOFF

    timeout = app.conf.broker_transport_options["visibility_timeout"]
    assert timeout > app.conf.task_time_limit
    assert timeout > max(RETRY_BACKOFF)


@pytest.mark.django_db
def test_healthz_reports_the_broker(client):
    """Writes carry on with the broker down (their tasks wait in the
    database), so only the health check tells: 503 naming it."""
    with broker_unreachable():
        down = client.get("/healthz")
    assert down.status_code == 503
    assert (down.json()["status"], down.json()["broker"], down.json()["database"]) == (
        "unavailable",
        "down",
        "ok",
    )

    up = client.get("/healthz")
    assert up.status_code == 200
    assert (up.json()["status"], up.json()["broker"]) == ("ok", "ok")
