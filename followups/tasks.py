"""Celery tasks: each takes ids, re-reads its rows and calls one service.
Declared in the beat schedule in dcc/settings/base.py."""

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from followups import sla, sms


@shared_task(name="followups.tasks.sla_sweep", ignore_result=True)
def sla_sweep():
    return sla.sweep_breaches(now=timezone.now())


@shared_task(name="followups.tasks.flag_overdue_appointments", ignore_result=True)
def flag_overdue_appointments():
    return sla.flag_overdue_appointments(now=timezone.now())


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


@shared_task(
    name="followups.tasks.send_sms_batch",
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def send_sms_batch(batch: str, first_id: int, last_id: int):
    """Send one range of a batch at its pace (``followups.sms.send_batch``).
    Killed, it comes back (acks late) and sends what is still pending."""
    return sms.send_batch(batch, first_id=first_id, last_id=last_id)
