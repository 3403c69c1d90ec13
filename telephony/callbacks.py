"""Missed-call callbacks (未接来电回拨, issue 14 §2).

A missed call: a customer's inbound call that no agent answered
(``answered_by`` system or none: the IVR, voicemail or a queue's hold does
not count). It waits for a call back in the lead owner's queue; a number no
lead has goes to the store's shared callback list, where an agent takes it
(``claim``). It is cleared by a connected call back: any later call with the
number that an agent answered (an outbound call back, or the customer
calling again and reached), seen in the call log, or a later phone
follow-up logged on the lead with the customer reached (any result but "no
answer").

The call-back figures (``callback_stats``) count the missed calls of a
period and the share called back within 30 minutes, 2 hours and the same
(local) day, measured from when the customer hung up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, Subquery
from django.utils import timezone

from dcc.policy import can
from followups.models import Channel, FollowUp, Result
from telephony.models import Call, Direction, answered_q
from telephony.stats import percent

# Missed calls older than this leave the queue (they stay in the figures).
QUEUE_DAYS = 7


def missed_q() -> Q:
    """On Call: a customer's inbound call no agent answered."""
    return Q(direction=Direction.INBOUND) & ~Q(external_number="") & ~answered_q()


def _called_back_by_call():
    return Call.objects.filter(
        answered_q(),
        store=OuterRef("store"),
        external_number=OuterRef("external_number"),
        started_at__gt=OuterRef("started_at"),
    )


def _called_back_by_log():
    return FollowUp.objects.filter(
        lead=OuterRef("lead"), channel=Channel.CALL, occurred_at__gt=OuterRef("started_at")
    ).exclude(result=Result.NO_ANSWER)


def pending_q() -> Q:
    """On Call: a missed call not called back yet."""
    return missed_q() & ~Q(Exists(_called_back_by_call())) & ~Q(Exists(_called_back_by_log()))


@dataclass
class Callback:
    """One number to call back: its missed calls grouped."""

    number: str
    number_display: str
    lead: object | None
    first_missed_at: datetime
    last_missed_at: datetime
    missed: int
    call_id: int  # the latest missed call
    claimed_by_id: int | None
    now: datetime

    @property
    def key(self) -> str:
        return f"callback-{self.call_id}"

    @property
    def waited(self) -> timedelta:
        """How long the customer has waited since their first missed call."""
        return self.now - self.first_missed_at

    @property
    def waited_minutes(self) -> int:
        return int(self.waited.total_seconds() // 60)


def _grouped(calls, now) -> list[Callback]:
    """``calls`` (in time order) grouped by number."""
    by_number: dict[str, Callback] = {}
    for call in calls:
        item = by_number.get(call.external_number)
        if item is None:
            by_number[call.external_number] = Callback(
                number=call.external_number,
                number_display=call.number_display,
                lead=call.lead,
                first_missed_at=call.started_at,
                last_missed_at=call.started_at,
                missed=1,
                call_id=call.pk,
                claimed_by_id=call.callback_claimed_by_id,
                now=now,
            )
        else:
            item.last_missed_at = call.started_at
            item.missed += 1
            item.call_id = call.pk
            item.lead = call.lead or item.lead
            item.claimed_by_id = call.callback_claimed_by_id or item.claimed_by_id
    # The longest wait first.
    return sorted(by_number.values(), key=lambda item: item.first_missed_at)


def _recent(now):
    return Call.objects.filter(pending_q(), started_at__gte=now - timedelta(days=QUEUE_DAYS))


def for_agent(user, *, now: datetime | None = None) -> dict:
    """The agent's callbacks: ``mine`` (their leads' missed calls, and the
    unknown numbers they took) and ``shared`` (the store's unknown numbers
    nobody took yet, which they may take)."""
    now = now or timezone.now()
    if not user.store_id:
        return {"mine": [], "shared": []}
    mine_q = Q(lead__owner=user) | Q(lead__isnull=True, callback_claimed_by=user)
    shared_q = Q(store_id=user.store_id, lead__isnull=True, callback_claimed_by__isnull=True)
    may_claim = can(user, "telephony.callbacks.claim")
    # Both lists in one query, each call marked with the list it is in
    # (they exclude each other: the shared list holds unknown numbers
    # nobody took).
    calls = list(
        _recent(now)
        .filter(mine_q | shared_q if may_claim else mine_q)
        .annotate(shared=ExpressionWrapper(shared_q, output_field=BooleanField()))
        .select_related("lead__customer")
        .order_by("started_at", "pk")
    )
    mine = _grouped([call for call in calls if not call.shared], now)
    shared = _grouped([call for call in calls if call.shared], now)
    return {"mine": mine, "shared": shared}


def claim(user, call_id: int, *, now: datetime | None = None) -> int:
    """Take the call back of an unknown number from the store's shared list:
    every pending missed call of that number nobody took. The number taken
    (0: not in the list, or someone was quicker)."""
    now = now or timezone.now()
    call = (
        _recent(now)
        .filter(pk=call_id, store_id=user.store_id, lead__isnull=True)
        .values("external_number")
        .first()
    )
    if call is None:
        return 0
    return (
        _recent(now)
        .filter(
            store_id=user.store_id,
            lead__isnull=True,
            external_number=call["external_number"],
            callback_claimed_by__isnull=True,
        )
        .update(callback_claimed_by=user)
    )


@dataclass
class CallbackStats:
    missed: int = 0
    within_30_minutes: int = 0
    within_2_hours: int = 0
    same_day: int = 0

    @property
    def within_30_minutes_rate(self):
        return percent(self.within_30_minutes, self.missed)

    @property
    def within_2_hours_rate(self):
        return percent(self.within_2_hours, self.missed)

    @property
    def same_day_rate(self):
        return percent(self.same_day, self.missed)


def callback_stats(calls) -> CallbackStats:
    """Of ``calls`` (already scoped and in a period): the missed ones and
    how soon each was called back (the first connected call or logged
    follow-up after it), from when the customer hung up."""
    first_call = Subquery(_called_back_by_call().order_by("started_at").values("started_at")[:1])
    first_log = Subquery(_called_back_by_log().order_by("occurred_at").values("occurred_at")[:1])
    rows = (
        calls.filter(missed_q())
        .annotate(by_call=first_call, by_log=first_log)
        .values_list("ended_at", "by_call", "by_log")
        .order_by()
    )
    result = CallbackStats()
    zone = timezone.get_default_timezone()
    for ended, by_call, by_log in rows.iterator():
        result.missed += 1
        times = [moment for moment in (by_call, by_log) if moment is not None]
        if not times:
            continue
        back = min(times)
        delay = back - ended
        if delay <= timedelta(minutes=30):
            result.within_30_minutes += 1
        if delay <= timedelta(hours=2):
            result.within_2_hours += 1
        if timezone.localtime(back, zone).date() == timezone.localtime(ended, zone).date():
            result.same_day += 1
    return result
