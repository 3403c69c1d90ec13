"""Verified follow-ups (issue 5 §7): a follow-up logged as a call is
verified when the PBX log has a call between that agent's extension and that
lead's number close to it; follow-ups that were never made show up.

- The window is the store's ``verify_window_minutes`` (FollowupPolicy), on
  both sides of the logged time: agents log during or after the call, and
  may back-enter it. The call counts when any part of it, from its start to
  its end, falls within the window: an agent who logs at the end of a long
  call logs it more than the window after the call started.
- A logged "no answer" is verified by any call attempt; every other result
  (the customer was spoken to) needs an answered call.
- Matching is by the call's lead (numbers are matched to leads at import)
  and by the agent the extension belonged to at the time.
- Verification runs after each import for the period it covers, and when a
  follow-up is logged (for calls imported before it).

- When a manager corrects who had an extension, its calls are re-linked and
  the follow-ups near them verified again (``reverify_extension``).

Known limit: one call may verify two follow-ups logged for it. What the log
cannot speak for (before its first or after its last call) is sorted out by
``telephony.stats``, not here.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import F, Max, Min, OuterRef, Q, Subquery

from followups.models import Channel, FollowUp, FollowupPolicy, Result
from telephony.models import Call, answered_q


def window_for(store_id: int) -> timedelta:
    return timedelta(minutes=FollowupPolicy.objects.for_store(store_id).verify_window_minutes)


# Calls longer than this are not looked for: it bounds the range of the
# (lead, started_at) and (agent, started_at) index scans below.
LONGEST_CALL = timedelta(hours=4)


def _call_for(window: timedelta, *, answered: bool):
    calls = Call.objects.filter(
        store_id=OuterRef("store_id"),
        agent_id=OuterRef("agent_id"),
        lead_id=OuterRef("lead_id"),
        # The call [started_at, ended_at] overlaps [logged − window, logged + window].
        started_at__gte=OuterRef("occurred_at") - (window + LONGEST_CALL),
        started_at__lte=OuterRef("occurred_at") + window,
        ended_at__gte=OuterRef("occurred_at") - window,
    )
    if answered:
        calls = calls.filter(answered_q())
    return Subquery(calls.order_by(F("started_at").desc()).values("pk")[:1])


def verify(followups, window: timedelta) -> int:
    """Set ``verified_call`` on the unverified call follow-ups given; the
    number verified."""
    pending = followups.filter(channel=Channel.CALL, verified_call__isnull=True)
    done = 0
    for answered, results in (
        (False, Q(result=Result.NO_ANSWER)),
        (True, ~Q(result=Result.NO_ANSWER)),
    ):
        done += (
            pending.filter(results)
            .annotate(found=_call_for(window, answered=answered))
            .filter(found__isnull=False)
            .update(verified_call=_call_for(window, answered=answered))
        )
    return done


def verify_store_period(*, store_id: int, since, until) -> int:
    """After an import: the store's follow-ups logged near its calls."""
    if since is None or until is None:
        return 0
    window = window_for(store_id)
    followups = FollowUp.objects.filter(
        store_id=store_id, occurred_at__gte=since - window, occurred_at__lte=until + window
    )
    return verify(followups, window)


def verify_followup(followup: FollowUp) -> bool:
    """When a follow-up is logged: calls already imported may prove it."""
    if followup.channel != Channel.CALL:
        return False
    window = window_for(followup.store_id)
    return bool(verify(FollowUp.objects.filter(pk=followup.pk), window))


def reverify_extension(*, store_id: int, extension: str) -> int:
    """After the calls of an extension went to another agent: follow-ups
    those calls verified are checked again, with the rest near them."""
    calls = Call.objects.filter(store_id=store_id, extension=extension)
    span = calls.aggregate(since=Min("started_at"), until=Max("ended_at"))
    FollowUp.objects.filter(store_id=store_id, verified_call__in=calls.values("pk")).update(
        verified_call=None
    )
    return verify_store_period(store_id=store_id, since=span["since"], until=span["until"])
