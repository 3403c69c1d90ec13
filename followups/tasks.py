"""Celery tasks: each takes ids, re-reads its rows and calls one service.
Declared in the beat schedule in dcc/settings/base.py."""

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from followups import pool, sla, sms


@shared_task(name="followups.tasks.sla_sweep", ignore_result=True)
def sla_sweep():
    return sla.sweep_breaches(now=timezone.now())


@shared_task(name="followups.tasks.flag_overdue_appointments", ignore_result=True)
def flag_overdue_appointments():
    return sla.flag_overdue_appointments(now=timezone.now())


@shared_task(name="followups.tasks.sweep_to_pool", ignore_result=True)
def sweep_to_pool():
    """The store's pool rules (公海): leads not worked in time leave their owner."""
    return pool.sweep_to_pool(now=timezone.now())


@shared_task(name="followups.tasks.flag_unassigned", ignore_result=True)
def flag_unassigned():
    """Manufacturer leads nobody took by the store's assignment windows."""
    return pool.flag_unassigned(now=timezone.now())


@shared_task(name="followups.tasks.dispatch_due_sms", ignore_result=True)
def dispatch_due_sms():
    """Hand every due outbox message to a worker; a message handed out twice
    is claimed once (followups.sms). This is also the sweep that sends what
    could not be enqueued while the broker was down (still pending, due)."""
    now = timezone.now()
    sms.mark_stuck_uncertain(now=now)
    sms.enqueue(sms.due_message_ids(now=now))


@shared_task(
    bind=True,
    name="followups.tasks.send_sms",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=5,
)
def send_sms(self, message_id: int) -> str:
    """Send one outbox message (``followups.sms.send``). After a temporary
    error the row is pending again with a later ``send_after`` (the backoff
    of that attempt, ``sms.RETRY_BACKOFF``) and the task retries itself for
    that moment; the retry, like any duplicate, sends only if it can claim
    the row."""
    outcome = sms.send(message_id)
    if outcome != "retry":
        return outcome
    countdown = sms.retry_countdown(message_id, now=timezone.now())
    if countdown is None:
        return outcome
    try:
        raise self.retry(countdown=countdown)
    except self.MaxRetriesExceededError:
        # Out of Celery retries: the row stays pending and the dispatcher
        # (dispatch_due_sms) hands it out when it is due.
        return outcome


# A batch task waits at most this long in a worker for its first slot; a
# range due later is handed back to the broker for that time.
BATCH_HOLD_SECONDS = 30


@shared_task(
    name="followups.tasks.send_sms_batch",
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def send_sms_batch(batch: str, first_id: int, last_id: int):
    """Send one range of a batch at its pace (``followups.sms.send_batch``).
    Killed, it comes back (acks late) and sends what is still pending. A
    range whose first slot is far off comes back at that time instead of
    holding a worker asleep."""
    wait = sms.seconds_until_batch(batch, first_id, last_id, now=timezone.now())
    if wait is None:
        return {}
    if wait > BATCH_HOLD_SECONDS:
        send_sms_batch.apply_async((batch, first_id, last_id), countdown=wait)
        return {"later": 1}
    return sms.send_batch(batch, first_id=first_id, last_id=last_id)
