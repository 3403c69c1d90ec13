"""Reminder SMS and the SLA sweep through real Celery workers on the configured
broker (Redis in CI), against the fake Tencent Cloud SMS server: no eager
mode, no mocked database or broker.

What a worker ran or published is observed through Celery's own signals
(``task_postrun``, ``after_task_publish``) for the in-process worker, and
through the result backend, the database and the fake provider's request log
for the worker started as a separate process.
"""

import json
import os
import signal
import subprocess
import sys
import time
from collections import namedtuple
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from celery.contrib.testing.worker import start_worker
from celery.result import denied_join_result
from celery.signals import after_task_publish, task_postrun
from django.conf import settings
from django.db import connection
from django.utils import timezone

from dcc.celery import app
from followups import services, sms
from followups.models import (
    Appointment,
    BreachKind,
    SlaBreach,
    SmsKind,
    SmsMessage,
    SmsStatus,
)
from followups.tasks import dispatch_due_sms, send_sms, sla_sweep
from leads.models import Source
from tests.broker import broker_unreachable
from tests.followups.fake_sms_server import FakeSmsServer, Reply, serial_no

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
TENCENT = "followups.backends.tencent.TencentBackend"
TEMPLATES = {"booking_customer": "1110001", "booking_receiver": "1110002", "reminder_customer": "3"}

Ran = namedtuple("Ran", "name id args retval state")
Published = namedtuple("Published", "name id args retries eta")


# ---------------------------------------------------------------- helpers


def wait_until(predicate, *, timeout=20.0, what="the condition", details=lambda: ""):
    """Poll ``predicate`` until it returns something truthy; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{details()}")
        time.sleep(0.02)


def at_least(count, items):
    """``items`` once there are ``count`` of them, for ``wait_until``."""
    return items if len(items) >= count else None


@contextmanager
def in_process_worker(*, pool="solo", concurrency=1):
    # denied_join_result: like a real worker's pool, whose processes never wait
    # on results. Otherwise a task published from a worker thread (a retry)
    # subscribes to its result on that thread's own result backend, whose
    # Redis connection nobody closes once the thread is gone: a
    # ResourceWarning, an error under pytest, in whichever test the garbage
    # collector happens to run.
    with (
        start_worker(
            app,
            pool=pool,
            concurrency=concurrency,
            perform_ping_check=False,
            shutdown_timeout=20,
        ) as worker,
        denied_join_result(),
    ):
        yield worker


class Seen:
    """What the in-process worker ran and what anyone in this process published."""

    def __init__(self):
        self.ran: list[Ran] = []
        self.published: list[Published] = []

    def runs(self, task, *, task_id=None, args=None):
        return [
            r
            for r in list(self.ran)
            if r.name == task.name
            and (task_id is None or r.id == task_id)
            and (args is None or r.args == tuple(args))
        ]

    def publishes(self, task, *, args=None):
        return [
            p
            for p in list(self.published)
            if p.name == task.name and (args is None or p.args == tuple(args))
        ]


@pytest.fixture
def seen():
    record = Seen()

    def on_postrun(sender=None, task_id=None, args=None, retval=None, state=None, **kwargs):
        record.ran.append(Ran(sender.name, task_id, tuple(args or ()), retval, state))

    def on_publish(sender=None, headers=None, body=None, **kwargs):
        args = tuple(body[0]) if isinstance(body, list | tuple) and body else ()
        record.published.append(
            Published(sender, headers["id"], args, headers.get("retries", 0), headers.get("eta"))
        )

    task_postrun.connect(on_postrun, weak=False)
    after_task_publish.connect(on_publish, weak=False)
    yield record
    task_postrun.disconnect(on_postrun)
    after_task_publish.disconnect(on_publish)


@pytest.fixture(autouse=True)
def _empty_queue():
    """Leftovers of another test must not reach this test's worker."""
    app.control.purge()


@pytest.fixture
def provider(settings):
    """The fake Tencent Cloud SMS server, and the Tencent backend pointed at it."""
    with FakeSmsServer() as fake:
        settings.SMS_BACKEND = TENCENT
        settings.SMS_TENCENT = fake.tencent_settings()
        settings.SMS_TEMPLATE_IDS = TEMPLATES
        yield fake


def book(agent, lead, *, days=3):
    return services.appointment_book(
        actor=agent, lead=lead, scheduled_at=timezone.now() + timedelta(days=days)
    )


def sends_by_key(fake):
    """Successful provider sends per idempotency key (SessionContext)."""
    counts = {}
    for record in fake.requests:
        if not record["reply"]["error"] and record["reply"]["code"] == "Ok":
            key = record["json"]["SessionContext"]
            counts[key] = counts.get(key, 0) + 1
    return counts


def message(appointment, kind, *, version=None):
    version = version or appointment.version
    return SmsMessage.objects.get(idempotency_key=f"appointment:{appointment.pk}:v{version}:{kind}")


# ---------------------------------------------------------------- 1. a retried task


def make_reminder_due(reminder) -> None:
    """The day before the visit: the reminder's time has come (test data moved
    in time, as a clock would)."""
    SmsMessage.objects.filter(pk=reminder.pk).update(send_after=timezone.now())


@pytest.mark.parametrize("kind", [SmsKind.BOOKING_CUSTOMER, SmsKind.REMINDER_CUSTOMER])
def test_a_temporary_error_is_retried_by_celery_and_sent_once(
    kind, alice, make_lead, provider, seen, monkeypatch
):
    monkeypatch.setattr(sms, "RETRY_BACKOFF", [2, 2, 2, 2])
    appointment = book(alice, make_lead(alice))  # enqueues the booking SMS after commit
    booking = message(appointment, SmsKind.BOOKING_CUSTOMER)
    target = message(appointment, kind)
    if kind == SmsKind.REMINDER_CUSTOMER:
        provider.script(Reply.ok())  # the booking SMS goes first, at once
    provider.script(Reply.api_error("InternalError", "内部错误"))

    with in_process_worker():
        if kind == SmsKind.REMINDER_CUSTOMER:
            wait_until(
                lambda: SmsMessage.objects.filter(pk=booking.pk, status=SmsStatus.SENT).exists(),
                what="the booking SMS",
            )
            make_reminder_due(target)
            dispatch_due_sms.delay()  # beat's dispatcher hands the reminder to a worker
        enqueued = wait_until(
            lambda: seen.publishes(send_sms, args=[target.pk]), what="the send to be enqueued"
        )[0]
        runs = wait_until(
            lambda: at_least(2, seen.runs(send_sms, task_id=enqueued.id, args=[target.pk])),
            what="the retried task to run",
        )

    # One Celery task, run twice: the first run asked for a retry in (just
    # under) the first backoff delay, republished with the same task id and
    # retries=1; the second run sent.
    assert [r.state for r in runs] == ["RETRY", "SUCCESS"]
    assert 1 < runs[0].retval.when <= 2  # the Retry's countdown
    assert runs[1].retval == "sent"
    (retry,) = [p for p in seen.publishes(send_sms) if p.retries == 1]
    assert retry.id == enqueued.id
    first, second = [
        r for r in provider.requests if r["json"]["SessionContext"] == target.idempotency_key
    ]
    assert first["reply"]["error"] == "InternalError"
    assert second["reply"]["code"] == "Ok"
    target.refresh_from_db()
    assert (target.status, target.attempts, target.last_error) == (SmsStatus.SENT, 2, "")
    assert target.provider_id == serial_no(second["serial"])
    sent = {booking.idempotency_key: 1, target.idempotency_key: 1}
    assert sends_by_key(provider) == sent
    # The failure put the row back for the first backoff delay (send_after is
    # left as it was then), the retry was due at that very moment, and the
    # provider heard again only after it.
    failed_at = datetime.fromtimestamp(first["received_at"], tz=UTC)
    assert timedelta(seconds=1) < target.send_after - failed_at <= timedelta(seconds=2)
    assert (
        timedelta(0) <= datetime.fromisoformat(retry.eta) - target.send_after < timedelta(seconds=1)
    )
    assert second["received_at"] >= target.send_after.timestamp()


# ---------------------------------------------------------------- 2. duplicate delivery


# SQLite's shared in-memory test database locks whole tables across threads.
@pytest.mark.postgres  # running two deliveries at once
def test_a_message_handed_out_twice_reaches_the_provider_once(alice, make_lead, provider, seen):
    provider.script(Reply.ok(hold=True))  # the first send stays in flight until released
    appointment = book(alice, make_lead(alice))  # enqueued once…
    booking = message(appointment, SmsKind.BOOKING_CUSTOMER)
    send_sms.delay(booking.pk)  # …and the same id once more (a redelivery, a second dispatcher)
    assert len(seen.publishes(send_sms, args=[booking.pk])) == 2

    with in_process_worker(pool="threads", concurrency=3):
        provider.wait_for_requests(1)
        dispatch_due_sms.delay()
        wait_until(
            lambda: seen.runs(dispatch_due_sms) and seen.runs(send_sms, args=[booking.pk]),
            what="the duplicate and the dispatcher to run while the first send is in flight",
        )
        assert SmsMessage.objects.get(pk=booking.pk).status == SmsStatus.SENDING
        provider.release()
        runs = wait_until(
            lambda: at_least(2, seen.runs(send_sms, args=[booking.pk])),
            what="both deliveries to finish",
        )

    assert sorted(r.retval for r in runs) == ["sent", "skipped"]
    # The dispatcher found nothing due: the row was being sent.
    assert len(seen.publishes(send_sms, args=[booking.pk])) == 2
    assert len(provider.requests) == 1
    assert sends_by_key(provider) == {booking.idempotency_key: 1}
    booking.refresh_from_db()
    assert (booking.status, booking.attempts) == (SmsStatus.SENT, 1)


# ---------------------------------------------------------------- 3. a killed worker


def _children(pid: int) -> list[int]:
    found = []
    for path in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(child) for child in path.read_text().split()]
    if found:
        return found
    for stat in Path("/proc").glob("[0-9]*/stat"):  # kernels without /proc/<pid>/task/*/children
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _database_url() -> str:
    db = connection.settings_dict  # the test database, once pytest-django has set it up
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or ""
    if db["PORT"]:
        host += f":{db['PORT']}"
    return f"postgres://{auth}@{host}/{quote(db['NAME'], safe='')}"


@contextmanager
def worker_process(fake: FakeSmsServer, log_path: Path):
    """``celery worker --pool prefork --concurrency 1`` on the test database and
    broker, sending through the Tencent backend to ``fake``."""
    conf = fake.tencent_settings()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dcc.settings.test",
        "DATABASE_URL": _database_url(),
        "CONN_MAX_AGE": "0",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND,
        "SMS_BACKEND": TENCENT,
        "SMS_TENCENT_ENDPOINT": conf["endpoint"],
        "SMS_TENCENT_SCHEME": conf["scheme"],
        "SMS_TENCENT_SECRET_ID": conf["secret_id"],
        "SMS_TENCENT_SECRET_KEY": conf["secret_key"],
        "SMS_TENCENT_REGION": conf["region"],
        "SMS_TENCENT_SDK_APP_ID": conf["sdk_app_id"],
        "SMS_TEMPLATE_IDS": json.dumps(TEMPLATES),
    }
    # The interpreter running the tests, not a .venv inside the checkout:
    # a worktree or an installed environment elsewhere has none.
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "dcc",
        "worker",
        "--pool",
        "prefork",
        "--concurrency",
        "1",
        "-Q",
        app.conf.task_default_queue,
        "-n",
        f"sms-kill-{os.getpid()}@%h",
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "INFO",
    ]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the group this test started
            process.wait(5)


# The SQLite test database lives in this process's memory.
@pytest.mark.postgres  # a worker in another process
def test_a_killed_worker_does_not_send_the_reminder_again(alice, mike, make_lead, tmp_path):
    log_path = tmp_path / "worker.log"

    def log_tail():
        return log_path.read_text(errors="replace")[-3000:]

    # The booking SMS goes at once; the provider then holds the reminder's
    # request long enough to kill the worker mid-send.
    replies = (Reply.ok(), Reply.ok(delay=8))
    with FakeSmsServer(*replies) as fake, worker_process(fake, log_path) as process:
        appointment = book(alice, make_lead(alice))
        booking = message(appointment, SmsKind.BOOKING_CUSTOMER)
        reminder = message(appointment, SmsKind.REMINDER_CUSTOMER)
        wait_until(
            lambda: (
                SmsMessage.objects.filter(pk=booking.pk, status=SmsStatus.SENT).exists()
                or process.poll() is not None
            ),
            timeout=60,
            what="the worker process to send the booking SMS",
            details=log_tail,
        )
        assert process.poll() is None, log_tail()

        make_reminder_due(reminder)
        enqueued = send_sms.delay(reminder.pk)  # as the dispatcher does
        wait_until(
            lambda: at_least(2, fake.requests),
            what="the reminder to reach the provider",
            details=log_tail,
        )
        children = _children(process.pid)
        assert len(children) == 1, f"expected one pool process, found {children}\n{log_tail()}"
        os.kill(children[0], signal.SIGKILL)

        # acks_late + reject_on_worker_lost: the same task comes back to a new
        # pool process, which finds the row claimed and does not send.
        result = app.AsyncResult(enqueued.id)
        wait_until(result.ready, timeout=30, what="the redelivered task", details=log_tail)
        assert result.result == "skipped", log_tail()
        assert len(fake.requests) == 2
        reminder.refresh_from_db()
        assert (reminder.status, reminder.attempts) == (SmsStatus.SENDING, 1)

        # Nothing sends it by itself; after a while it shows as uncertain…
        assert sms.mark_stuck_uncertain(now=timezone.now()) == 0
        later = timezone.now() + sms.STUCK_AFTER + timedelta(seconds=1)
        assert sms.mark_stuck_uncertain(now=later) == 1
        reminder.refresh_from_db()
        assert reminder.status == SmsStatus.UNCERTAIN
        # …and a person decides to send it again.
        sms.retry_by_hand(actor=mike, message=reminder)
        wait_until(
            lambda: SmsMessage.objects.filter(pk=reminder.pk, status=SmsStatus.SENT).exists(),
            timeout=30,
            what="the hand retry to be sent",
            details=log_tail,
        )

    reminder.refresh_from_db()
    assert reminder.attempts == 2
    assert reminder.provider_id == serial_no(fake.requests[2]["serial"])
    keys = [r["json"]["SessionContext"] for r in fake.requests]
    assert keys == [booking.idempotency_key] + [reminder.idempotency_key] * 2
    assert process.returncode is not None


# ---------------------------------------------------------------- 4. reschedule and cancel


def test_reschedule_and_cancel_through_a_worker(alice, make_lead, provider, seen):
    # Booked and rescheduled before any worker runs: the v1 booking SMS task is queued.
    moved = book(alice, make_lead(alice), days=3)
    new_time = moved.scheduled_at + timedelta(days=1)
    services.appointment_reschedule(actor=alice, appointment=moved, scheduled_at=new_time)
    moved.refresh_from_db()
    assert moved.version == 2
    # Booked and cancelled before any worker runs: its booking SMS task is queued.
    dropped = book(alice, make_lead(alice), days=2)
    services.appointment_cancel(actor=alice, appointment=dropped, reason="改主意")

    v1 = {
        kind: message(moved, kind, version=1) for kind in ("booking_customer", "reminder_customer")
    }
    v2 = {
        kind: message(moved, kind, version=2) for kind in ("booking_customer", "reminder_customer")
    }
    cancelled = [*v1.values(), *SmsMessage.objects.filter(appointment=dropped)]
    assert {m.status for m in cancelled} == {SmsStatus.CANCELLED}
    assert {m.status for m in v2.values()} == {SmsStatus.PENDING}
    queued = seen.publishes(send_sms)
    assert sorted(p.args[0] for p in queued) == sorted(
        [
            v1["booking_customer"].pk,
            v2["booking_customer"].pk,
            message(dropped, SmsKind.BOOKING_CUSTOMER).pk,
        ]
    )

    with in_process_worker():
        runs = wait_until(
            lambda: at_least(3, seen.runs(send_sms)), what="the three queued sends to run"
        )

    outcomes = {r.args[0]: r.retval for r in runs}
    assert outcomes == {
        v1["booking_customer"].pk: "skipped",
        v2["booking_customer"].pk: "sent",
        message(dropped, SmsKind.BOOKING_CUSTOMER).pk: "skipped",
    }
    (record,) = provider.requests
    assert record["json"]["SessionContext"] == v2["booking_customer"].idempotency_key
    assert record["json"]["TemplateParamSet"][1] == sms._when(new_time)
    assert {m.status for m in SmsMessage.objects.filter(pk__in=[m.pk for m in cancelled])} == {
        SmsStatus.CANCELLED
    }
    reminder = SmsMessage.objects.get(pk=v2["reminder_customer"].pk)
    assert reminder.status == SmsStatus.PENDING
    assert reminder.send_after == sms.reminder_time(moved.scheduled_at, store=moved.store)

    services.appointment_cancel(actor=alice, appointment=moved)
    reminder.refresh_from_db()
    assert reminder.status == SmsStatus.CANCELLED
    assert SmsMessage.objects.get(pk=v2["booking_customer"].pk).status == SmsStatus.SENT


# ---------------------------------------------------------------- 5. the SLA sweep


def test_two_sweeps_at_once_and_a_third_flag_each_lead_once(alice, mike, make_lead, seen):
    now = timezone.now()
    overdue = [
        make_lead(
            mike, source=Source.MANUFACTURER, owner=alice, received_at=now - timedelta(hours=h)
        )
        for h in (49, 50, 72)
    ]
    make_lead(mike, source=Source.MANUFACTURER, owner=alice, received_at=now - timedelta(hours=47))

    # Two at once need a server database (SQLite's shared in-memory test
    # database locks whole tables across threads); there, one after the other.
    at_once = connection.vendor != "sqlite"
    with in_process_worker(pool="threads" if at_once else "solo", concurrency=2 if at_once else 1):
        sla_sweep.delay()
        sla_sweep.delay()
        wait_until(lambda: at_least(2, seen.runs(sla_sweep)), what="two sweeps")
        first = {b.lead_id: (b.pk, b.breached_at) for b in SlaBreach.objects.all()}
        sla_sweep.delay()
        wait_until(lambda: at_least(3, seen.runs(sla_sweep)), what="the third sweep")

    assert sorted(first) == sorted(lead.pk for lead in overdue)
    breaches = SlaBreach.objects.all()
    assert sorted(b.lead_id for b in breaches) == sorted(lead.pk for lead in overdue)
    assert {b.lead_id: (b.pk, b.breached_at) for b in breaches} == first
    assert {b.kind for b in breaches} == {BreachKind.MANUFACTURER_48H}
    assert seen.runs(sla_sweep)[-1].retval == 0
    assert all(r.state == "SUCCESS" for r in seen.runs(sla_sweep))


# ---------------------------------------------------------------- 6. the broker down


def test_with_the_broker_down_a_booking_is_saved_and_its_sms_sent_once_it_is_back(
    api, alice, make_lead, provider, seen, caplog
):
    lead = make_lead(alice)
    when = timezone.now() + timedelta(days=3)

    with broker_unreachable():
        response = api(alice).post(
            f"/api/v1/leads/{lead.pk}/appointments/",
            {"scheduled_at": when.isoformat()},
            format="json",
        )

    # The write stands (no 500 inviting a retry that would book twice); its
    # SMS waits in the outbox, the failed publish logged.
    assert response.status_code == 201, response.content
    appointment = Appointment.objects.get(lead=lead)
    booking = message(appointment, SmsKind.BOOKING_CUSTOMER)
    assert sms.due_message_ids(now=timezone.now()) == [booking.pk]
    assert booking.status == SmsStatus.PENDING
    assert seen.publishes(send_sms) == []
    assert any("not enqueued" in r.getMessage() for r in caplog.records), caplog.text

    # The broker is back and a worker runs: beat's dispatcher sweeps the
    # message out, once, however often it runs.
    with in_process_worker():
        dispatch_due_sms.delay()
        wait_until(
            lambda: SmsMessage.objects.filter(pk=booking.pk, status=SmsStatus.SENT).exists(),
            what="the swept booking SMS to be sent",
        )
        dispatch_due_sms.delay()
        wait_until(lambda: at_least(2, seen.runs(dispatch_due_sms)), what="a second sweep")

    assert [r.retval for r in seen.runs(send_sms, args=[booking.pk])] == ["sent"]
    assert sends_by_key(provider) == {booking.idempotency_key: 1}
