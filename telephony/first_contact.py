"""The first-contact rule's connected calls (issue 14 §3): which calls of a
store's call log meet it. Applying a contact to a lead and its breach is
``followups.sla``'s (the one place); the store's setting is FollowupPolicy's.

A connected call: answered by an agent (``Call.answered_by``; the IVR or
voicemail answering is not), to or from the lead's number (the call's lead,
matched by number at import), with at least the store's
``first_contact_min_talk_seconds`` of talk, started at or after the lead's
clock start (receipt, or the last transfer).

It is looked for after each import (the calls it brought) and when a
follow-up is logged and verified by a call. (Calls linked to a lead when it
is entered came before it: they cannot meet its rule.)
"""

from __future__ import annotations

from django.db import connection
from django.db.models import F, Q
from django.db.models.functions import Coalesce

from followups import sla
from followups.models import FollowupPolicy
from telephony.models import Call, Direction, answered_q


def connected_q(min_talk: int) -> Q:
    """On Call: a connected call with a lead, for the first-contact rule."""
    return (
        answered_q()
        & Q(direction__in=[Direction.INBOUND, Direction.OUTBOUND])
        & Q(billsec__gte=min_talk, lead__isnull=False)
        # Leads under the rule (followups.sla.under_rule): with a deadline.
        & Q(lead__first_contact_due__isnull=False)
    )


def _contacts(calls) -> list[tuple]:
    """(lead id, start, call id) of the calls at or after their lead's clock start."""
    return list(
        calls.filter(started_at__gte=Coalesce(F("lead__transferred_at"), F("lead__received_at")))
        .order_by("started_at", "pk")
        .values_list("lead_id", "started_at", "pk")
    )


def record_store_calls(*, store_id: int, since, until) -> int:
    """After an import of the store's calls started in [since, until]: the
    leads these calls first contacted (under the connected rule)."""
    policy = sla.note_call_log(store_id, since)
    if since is None or sla.rule_for(policy) != sla.CONNECTED:
        return 0
    calls = Call.objects.filter(
        connected_q(policy.first_contact_min_talk_seconds),
        store_id=store_id,
        started_at__gte=since,
        started_at__lte=until,
    )
    if connection.vendor == "postgresql":
        # A big log: the earliest contact per lead in SQL, applied in one
        # statement (a million calls reach tens of thousands of leads).
        firsts = (
            calls.filter(
                started_at__gte=Coalesce(F("lead__transferred_at"), F("lead__received_at"))
            )
            .order_by("lead_id", "started_at", "pk")
            .distinct("lead_id")
            .values_list("lead_id", "started_at", "pk")
        )
        sql, params = firsts.query.sql_with_params()
        # The ORM's own compiled query; its values stay parameters.
        firsts_sql = f"SELECT s.* FROM ({sql}) s(lead_id, contact_at, call_id)"  # noqa: S608
        return sla.record_contacts_sql(firsts_sql, list(params))
    return sla.record_contacts(_contacts(calls))


def record_followup_call(followup) -> int:
    """A logged follow-up verified by a call: that call, if connected."""
    if followup.verified_call_id is None:
        return 0
    policy = FollowupPolicy.objects.for_store(followup.store_id)
    if sla.rule_for(policy) != sla.CONNECTED:
        return 0
    calls = Call.objects.filter(
        connected_q(policy.first_contact_min_talk_seconds), pk=followup.verified_call_id
    )
    return sla.record_contacts(_contacts(calls))
