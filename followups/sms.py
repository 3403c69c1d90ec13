"""Appointment SMS through the outbox (DESIGN §2, TELEPHONY.md "SMS providers").

At most once per appointment, kind and version, whatever the retries or
worker crashes:

1. Planning writes one ``SmsMessage`` per (appointment, version, kind); its
   unique idempotency key makes planning twice add nothing.
2. Sending first *claims* the row with a conditional UPDATE
   (pending → sending, counted): of two workers handed the same id, one
   claims it and the other does nothing.
3. Only then is the provider called; the row then becomes sent, or failed
   (permanent error), or pending again with a later ``send_after``
   (temporary error: the Celery task retries itself at that time, with the
   backoff of ``RETRY_BACKOFF``; the dispatcher would also pick the row up,
   and whichever comes second finds it no longer pending).
4. A worker that dies between 2 and 3 leaves the row "sending". Providers do
   not de-duplicate, so it is never resent by itself: ``mark_stuck_uncertain``
   turns it "uncertain" for a person to check and retry from the outbox page.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.module_loading import import_string

from dcc.celery import enqueue_on_commit
from followups.backends.base import TransportError
from followups.models import (
    Appointment,
    FollowupPolicy,
    SmsKind,
    SmsMessage,
    SmsStatus,
    VisitType,
)

# Chinese previews of the provider templates: a message is a template kind with
# ordered parameters; the provider holds the approved text (with the store's
# signature), this is how the outbox shows it. Texts to a customer read as a
# message to a customer: the visit is named by what the customer comes for
# (``VISIT_WORDS``), never by the staff's follow-up purpose.
PREVIEWS = {
    SmsKind.BOOKING_CUSTOMER: "{0}您好，您已预约{1}到{3}{2}，我们恭候您的光临。",
    SmsKind.BOOKING_RECEIVER: "{0}您好，客户{1}（{2}）预约{3}到店{4}，请做好接待准备。",
    SmsKind.REMINDER_CUSTOMER: "{0}您好，温馨提醒：您预约了{1}到{2}{3}，期待您的光临。",
}
# The customer's words for a visit, in the template's language (Chinese
# whatever the staff's interface language is).
VISIT_WORDS = {
    VisitType.VIEWING: "看车",
    VisitType.TEST_DRIVE: "试乘试驾",
    VisitType.EVENT: "参加活动",
    VisitType.NEGOTIATION: "洽谈购车",
    VisitType.DELIVERY: "提车",
}
RETRY_BACKOFF = [60, 300, 900, 3600]  # seconds; then the message fails
STUCK_AFTER = timedelta(minutes=10)


def render(kind: str, params, signature: str) -> str:
    template = PREVIEWS.get(kind)
    if template is None:
        # A campaign's template lives at the provider (its id on the
        # message): the outbox shows its parameters in order.
        text = " | ".join(str(p) for p in params)
    else:
        # Padded: a message planned before a template gained a parameter still reads.
        text = template.format(*params, *[""] * 5)
    return f"【{signature}】{text}" if signature else text


def preview(message: SmsMessage) -> str:
    return render(message.kind, message.params, message.signature)


def _when(moment: datetime) -> str:
    return date_format(timezone.localtime(moment), "n月j日 H:i")


def _key(appointment: Appointment, kind: str) -> str:
    return f"appointment:{appointment.pk}:v{appointment.version}:{kind}"


def reminder_time(scheduled_at: datetime, *, store) -> datetime:
    """The day before the visit, at the store's reminder hour (local time)."""

    day_before = timezone.localtime(scheduled_at).date() - timedelta(days=1)
    hour = FollowupPolicy.objects.for_store(store).reminder_hour
    return timezone.make_aware(datetime.combine(day_before, time(hour=hour)))


def texts_for_visit(
    *, lead, store, scheduled_at: datetime, visit_type: str, receiver, now: datetime
) -> list[tuple[str, str, list[str], datetime]]:
    """What booking a visit will send: (kind, phone, params, send after) of
    the booking SMS to the customer and to the receiver (if they have a
    mobile) and of the day-before reminder (unless that time has passed).
    The one rule behind both the outbox and the booking form's preview."""
    customer = lead.customer.name
    visit = VISIT_WORDS.get(visit_type, VISIT_WORDS[VisitType.VIEWING])
    when = _when(scheduled_at)
    planned = [
        (SmsKind.BOOKING_CUSTOMER, lead.phone, [customer, when, visit, store.name], now),
    ]
    if receiver is not None and receiver.mobile:
        planned.append(
            (
                SmsKind.BOOKING_RECEIVER,
                receiver.mobile,
                [receiver.display_name, customer, lead.phone_display, when, visit],
                now,
            )
        )
    remind_at = reminder_time(scheduled_at, store=store)
    if remind_at > now:
        planned.append(
            (SmsKind.REMINDER_CUSTOMER, lead.phone, [customer, when, store.name, visit], remind_at)
        )
    return [(kind, phone, [str(p) for p in params], at) for kind, phone, params, at in planned]


def signature_for(store) -> str:
    return FollowupPolicy.objects.for_store(store).sms_signature or store.name


def preview_for_visit(*, lead, scheduled_at: datetime, visit_type: str, receiver, now=None):
    """The exact texts booking this visit would send, as (kind, text): the
    booking form shows them before saving."""
    store = lead.store
    signature = signature_for(store)
    planned = texts_for_visit(
        lead=lead,
        store=store,
        scheduled_at=scheduled_at,
        visit_type=visit_type,
        receiver=receiver,
        now=now or timezone.now(),
    )
    return [(kind, render(kind, params, signature)) for kind, _phone, params, _at in planned]


def plan_for_appointment(appointment: Appointment, *, now: datetime) -> list[SmsMessage]:
    """The booking SMS to the customer and the receiver now, and the reminder
    the day before (skipped when that time has passed: the booking SMS has
    just told the customer). None for a visit whose time has passed (a
    manager recording history): nobody is to be told about it now."""

    if appointment.scheduled_at <= now:
        return []
    lead = appointment.lead
    store = appointment.store
    signature = signature_for(store)
    planned = texts_for_visit(
        lead=lead,
        store=store,
        scheduled_at=appointment.scheduled_at,
        visit_type=appointment.visit_type,
        receiver=appointment.receiver,
        now=now,
    )
    messages = []
    for kind, phone, params, send_after in planned:
        message, _created = SmsMessage.objects.get_or_create(
            idempotency_key=_key(appointment, kind),
            defaults={
                "store": store,
                "lead": lead,
                "appointment": appointment,
                "kind": kind,
                "phone": phone,
                "params": params,
                "signature": signature,
                "send_after": send_after,
            },
        )
        messages.append(message)
    enqueue([m.pk for m in messages if m.send_after <= now and m.status == SmsStatus.PENDING])
    return messages


def enqueue(message_ids):
    """Hand the messages to a worker after commit. With the broker down they
    stay pending in the outbox, and the dispatcher sends them when it is back."""
    from followups.tasks import send_sms

    for message_id in message_ids:
        enqueue_on_commit(send_sms, message_id)


def cancel_for_appointment(appointment: Appointment) -> int:
    return SmsMessage.objects.filter(appointment=appointment, status=SmsStatus.PENDING).update(
        status=SmsStatus.CANCELLED
    )


def get_backend():
    return import_string(settings.SMS_BACKEND)()


def send(message_id: int, *, now: datetime | None = None, backend=None) -> str:
    """Claim and send one message. Returns what happened: "sent", "failed",
    "retry" (temporary error, rescheduled), "uncertain" (the answer was lost
    after the request went out) or "skipped" (not ours to send)."""
    now = now or timezone.now()
    # Built before the claim: a misconfigured backend leaves the row pending,
    # not "sending" (which would later read as a possible send).
    backend = backend or get_backend()
    claimed = SmsMessage.objects.filter(
        pk=message_id, status=SmsStatus.PENDING, send_after__lte=now
    ).update(status=SmsStatus.SENDING, attempts=F("attempts") + 1, claimed_at=now)
    if claimed != 1:
        return "skipped"
    message = SmsMessage.objects.get(pk=message_id)
    try:
        provider_id = backend.send(message, text=preview(message))
    except TransportError as exc:
        update = {"last_error": str(exc)[:2000], "backend": backend.name}
        if exc.uncertain:
            # The provider may have it: a person decides (see step 4 above).
            update.update(status=SmsStatus.UNCERTAIN)
            SmsMessage.objects.filter(pk=message_id, status=SmsStatus.SENDING).update(**update)
            return "uncertain"
        retry = not exc.permanent and message.attempts <= len(RETRY_BACKOFF)
        if retry:
            delay = RETRY_BACKOFF[message.attempts - 1]
            update.update(status=SmsStatus.PENDING, send_after=now + timedelta(seconds=delay))
        else:
            update.update(status=SmsStatus.FAILED)
        SmsMessage.objects.filter(pk=message_id, status=SmsStatus.SENDING).update(**update)
        return "retry" if retry else "failed"
    SmsMessage.objects.filter(pk=message_id, status=SmsStatus.SENDING).update(
        status=SmsStatus.SENT,
        sent_at=timezone.now(),
        provider_id=provider_id or "",
        backend=backend.name,
        last_error="",
    )
    return "sent"


def retry_countdown(message_id: int, *, now: datetime) -> float | None:
    """Seconds until a message put back by a temporary error is due again
    (its ``send_after``), or None when it no longer waits (cancelled, sent,
    claimed by someone else)."""
    send_after = (
        SmsMessage.objects.filter(pk=message_id, status=SmsStatus.PENDING)
        .values_list("send_after", flat=True)
        .first()
    )
    if send_after is None:
        return None
    return max(0.0, (send_after - now).total_seconds())


def due_message_ids(*, now: datetime, limit: int = 500) -> list[int]:
    return list(
        SmsMessage.objects.filter(status=SmsStatus.PENDING, send_after__lte=now)
        .order_by("send_after")
        .values_list("pk", flat=True)[:limit]
    )


def mark_stuck_uncertain(*, now: datetime) -> int:
    return SmsMessage.objects.filter(
        status=SmsStatus.SENDING, claimed_at__lt=now - STUCK_AFTER
    ).update(status=SmsStatus.UNCERTAIN)


def retry_by_hand(*, actor, message: SmsMessage) -> SmsMessage:
    """A person decided a failed or uncertain message should go (again)."""
    from dcc import audit

    updated = SmsMessage.objects.filter(
        pk=message.pk, status__in=[SmsStatus.FAILED, SmsStatus.UNCERTAIN]
    ).update(status=SmsStatus.PENDING, send_after=timezone.now())
    if updated:
        audit.record("followups.sms.retried", actor=actor, target=message, store=message.store)
        enqueue([message.pk])
    message.refresh_from_db()
    return message


# ---------------------------------------------------------------- bulk (campaign rounds)


def rate_per_second() -> float:
    """How many messages a second the provider account takes
    (``SMS_RATE_PER_SECOND``); 0 means no pacing."""
    return float(getattr(settings, "SMS_RATE_PER_SECOND", 0) or 0)


def plan_batch(
    *,
    store,
    batch: str,
    kind: str,
    template_id: str,
    signature: str,
    rows,
    start: datetime,
    rate: float | None = None,
) -> int:
    """Write one outbox message per row ``(idempotency key, phone, params)``
    of a batch, in slots ``1 / rate`` seconds apart from ``start`` (paced to
    the provider's limit). A key already written is left as it is (its
    status, its slot): planning again, after a crash or a double click, adds
    nothing. Returns how many rows are new."""
    rate = rate_per_second() if rate is None else rate
    step = timedelta(seconds=1 / rate) if rate else timedelta(0)
    created = 0
    chunk: list[SmsMessage] = []
    slot = start
    for key, phone, params in rows:
        chunk.append(
            SmsMessage(
                store=store,
                kind=kind,
                phone=phone,
                params=[str(p) for p in params],
                signature=signature,
                template_id=template_id,
                batch=batch,
                idempotency_key=key,
                send_after=slot,
            )
        )
        slot += step
        if len(chunk) >= PLAN_CHUNK:
            created += _insert_new(chunk)
            chunk = []
    if chunk:
        created += _insert_new(chunk)
    return created


PLAN_CHUNK = 5000


def _insert_new(messages: list[SmsMessage]) -> int:
    keys = [m.idempotency_key for m in messages]
    known = set(
        SmsMessage.objects.filter(idempotency_key__in=keys).values_list(
            "idempotency_key", flat=True
        )
    )
    # ignore_conflicts: a concurrent planner's row wins, never a second row.
    SmsMessage.objects.bulk_create(
        [m for m in messages if m.idempotency_key not in known], ignore_conflicts=True
    )
    return len(messages) - len(known)


def batch_ranges(batch: str, *, size: int = 1000) -> list[tuple[int, int]]:
    """The pending messages of a batch as (first id, last id) ranges of up
    to ``size`` messages, in slot order: one task each."""
    ids = list(
        SmsMessage.objects.filter(batch=batch, status=SmsStatus.PENDING)
        .order_by("send_after", "pk")
        .values_list("pk", flat=True)
    )
    ids.sort()
    return [
        (chunk[0], chunk[-1]) for chunk in (ids[i : i + size] for i in range(0, len(ids), size))
    ]


def send_batch(
    batch: str,
    *,
    first_id: int = 0,
    last_id: int | None = None,
    sleep=None,
    clock=None,
) -> dict:
    """Send the pending messages of ``batch`` (between two ids), each at its
    slot: wait until its ``send_after``, then ``send`` (claim first, so a
    message handed to two workers, or to this loop and the dispatcher, goes
    once; a worker killed mid-send leaves it "sending", never resent by
    itself). Safe to run again at any time: what was sent is skipped.
    Returns the count of each outcome."""
    import time as _time

    sleep = sleep or _time.sleep
    clock = clock or timezone.now
    backend = get_backend()  # one client for the whole range
    outcomes: dict[str, int] = {}
    messages = SmsMessage.objects.filter(batch=batch, status=SmsStatus.PENDING, pk__gte=first_id)
    if last_id is not None:
        messages = messages.filter(pk__lte=last_id)
    for message_id, send_after in messages.order_by("send_after", "pk").values_list(
        "pk", "send_after"
    ):
        wait = (send_after - clock()).total_seconds()
        if wait > 0:
            sleep(wait)
        outcome = send(message_id, now=max(clock(), send_after), backend=backend)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def pending_in_batch(batch: str) -> int:
    return SmsMessage.objects.filter(batch=batch, status=SmsStatus.PENDING).count()
