"""The first-contact deadlines (DESIGN §2 "Rules with clocks") and the
appointment grace check, run by Celery beat (``followups.tasks``).

The first-contact rule (issue 14): a store's FollowupPolicy says what meets
it (:func:`rule_for`): any logged call, or a connected call (an agent-answered
call to or from the lead's number with at least N seconds of talk in the
store's call log, or a logged follow-up verified by one; telephony finds
those calls: ``telephony.first_contact``). Either way the contact is
recorded here only (:func:`apply_contact`, :func:`record_contacts`): the
lead's first-contact time, ``sla_met_at`` (what the sweep, the breach and
the 48-hour KPI read) and the call that met it. The rule governs the leads
with a first-contact deadline (:func:`under_rule`: manufacturer leads and
transfers); a lead without one is contacted by any logged call.

A call log arriving late (imports run every few minutes or once a day):
the sweep may already have raised the breach. When the log then proves a
contact, the breach stays recorded, with ``contacted_at`` and the call: a
contact at or before the deadline makes it a false alarm (no longer open,
and the 48-hour KPI counts the lead as compliant, which it was); a contact
after the deadline marks it met late (still open until acknowledged; the
KPI counts it as missed).

Both are safe to run twice, or twice at once: a breach is one row per lead
and deadline under a unique constraint (inserted with ON CONFLICT DO NOTHING
RETURNING, so each sweep counts only what it added), and an appointment is
flagged by a conditional UPDATE on ``flagged_at IS NULL``.
"""

from datetime import timedelta

from django.db import connection
from django.db.models import F, Q
from django.utils import timezone

from followups.models import (
    PENDING_APPOINTMENT,
    Appointment,
    BreachKind,
    FirstContactRule,
    FollowupPolicy,
    SlaBreach,
)
from leads.models import Lead, Source

LOGGED, CONNECTED = FirstContactRule.LOGGED, FirstContactRule.CONNECTED

CATCH_UP = timedelta(days=30)


# ---------------------------------------------------------------- the first-contact rule


def rule_for(policy: FollowupPolicy) -> str:
    """LOGGED or CONNECTED: the store's choice, "auto" being CONNECTED once
    the store's call log is imported (``note_call_log``), LOGGED before."""
    rule = policy.first_contact_rule
    if rule == FirstContactRule.AUTO:
        return CONNECTED if policy.call_log_since else LOGGED
    return rule


def under_rule(lead: Lead) -> bool:
    """The lead has a first-contact deadline (a manufacturer lead, a
    transfer): the store's rule decides what contacts it. A lead without
    one is contacted by any logged call, as before the rule."""
    return lead.first_contact_due is not None


def note_call_log(store_id: int, since) -> FollowupPolicy:
    """Telephony imported the store's call log from ``since``: "auto" means
    a connected call from now on. The store's policy (saved if it had none)."""
    policy, _created = FollowupPolicy.objects.get_or_create(store_id=store_id)
    if since is not None and (policy.call_log_since is None or since < policy.call_log_since):
        FollowupPolicy.objects.filter(pk=policy.pk).update(call_log_since=since)
        policy.call_log_since = since
    return policy


def clock_start(lead: Lead):
    """Where the current deadline's clock started: receipt, or the last
    transfer/activation."""
    return lead.transferred_at or lead.received_at


def apply_contact(lead: Lead, at, *, call_id: int | None = None) -> bool:
    """A contact that meets the store's rule, at ``at``, on the lead in
    memory (the caller saves it): the first-contact time (the earliest
    contact), and ``sla_met_at`` (the earliest contact at or after the
    clock's start) with the call that met it. True when anything changed."""
    changed = False
    if lead.first_contacted_at is None or at < lead.first_contacted_at:
        lead.first_contacted_at = at
        lead.first_contact_minutes = max(0, int((at - lead.received_at).total_seconds() // 60))
        changed = True
    if at >= clock_start(lead) and (lead.sla_met_at is None or at < lead.sla_met_at):
        lead.sla_met_at = at
        lead.sla_met_call_id = call_id
        changed = True
    return changed


def settle_breach(lead: Lead) -> int:
    """The breach raised on the lead's current deadline, now that a contact
    is known: recorded with it (see the module's note on late call logs)."""
    if lead.sla_met_at is None or lead.first_contact_due is None:
        return 0
    return SlaBreach.objects.filter(
        lead_id=lead.pk, due_at=lead.first_contact_due, contacted_at__isnull=True
    ).update(contacted_at=lead.sla_met_at, contact_call_id=lead.sla_met_call_id)


CONTACT_FIELDS = ["first_contacted_at", "first_contact_minutes", "sla_met_at", "sla_met_call_id"]


def record_contacts(contacts) -> int:
    """Connected calls found in a call log, ``[(lead id, started at, call
    id)]``: each applied to its lead (locked) and its breach. The number of
    leads changed."""
    earliest: dict[int, tuple] = {}
    for lead_id, at, call_id in contacts:
        if lead_id not in earliest or at < earliest[lead_id][0]:
            earliest[lead_id] = (at, call_id)
    changed = 0
    leads = Lead.objects.select_for_update().filter(pk__in=sorted(earliest)).order_by("pk")
    for lead in leads:
        at, call_id = earliest[lead.pk]
        if apply_contact(lead, at, call_id=call_id):
            lead.save(update_fields=[*CONTACT_FIELDS, "updated_at"])
            changed += 1
        settle_breach(lead)
    return changed


def record_contacts_sql(firsts_sql: str, params: list) -> int:
    """record_contacts() for a big call log, in one statement on PostgreSQL:
    ``firsts_sql`` selects (lead_id, contact_at, call_id), one row per lead (its
    earliest contact at or after its clock start), from the layer that
    knows the calls; the same rule as apply_contact and settle_breach,
    written in SQL. History rows are not written (a machine's bulk write).
    The number of leads changed."""
    qn = connection.ops.quote_name
    lead = qn(Lead._meta.db_table)
    breach = qn(SlaBreach._meta.db_table)
    sooner = "f.contact_at < l.first_contacted_at OR l.first_contacted_at IS NULL"
    met = "f.contact_at < l.sla_met_at OR l.sla_met_at IS NULL"
    # Table names are the models', quoted; every value is a parameter.
    sql = (
        f"WITH firsts AS ({firsts_sql}), changed AS ("  # noqa: S608
        f" UPDATE {lead} l SET"
        f" first_contacted_at = CASE WHEN {sooner} THEN f.contact_at ELSE l.first_contacted_at END,"
        f" first_contact_minutes = CASE WHEN {sooner}"
        f"  THEN GREATEST(0, FLOOR(EXTRACT(EPOCH FROM f.contact_at - l.received_at) / 60))::integer"
        f"  ELSE l.first_contact_minutes END,"
        f" sla_met_call_id = CASE WHEN {met} THEN f.call_id ELSE l.sla_met_call_id END,"
        f" sla_met_at = CASE WHEN {met} THEN f.contact_at ELSE l.sla_met_at END"
        f" FROM firsts f WHERE l.id = f.lead_id AND ({sooner} OR {met})"
        f" RETURNING l.id, l.sla_met_at, l.sla_met_call_id, l.first_contact_due)"
        f" UPDATE {breach} b SET contacted_at = c.sla_met_at, contact_call_id = c.sla_met_call_id"
        f" FROM changed c WHERE b.lead_id = c.id AND b.due_at = c.first_contact_due"
        f" AND b.contacted_at IS NULL AND c.sla_met_at IS NOT NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


# ---------------------------------------------------------------- the sweep


def sweep_breaches(*, now=None) -> int:
    """Flag every open lead whose first-contact deadline passed without a
    contact that meets the store's rule (``sla_met_at``, kept by
    apply_contact). Returns how many breaches are new."""
    now = now or timezone.now()
    overdue = (
        Lead.objects.open()
        # A sweep catches up on deadlines of the last CATCH_UP; older ones were
        # seen by earlier sweeps (the window keeps the scan on the index).
        .filter(first_contact_due__lt=now, first_contact_due__gte=now - CATCH_UP)
        # Not called at all, or called only after the deadline.
        .filter(Q(sla_met_at__isnull=True) | Q(sla_met_at__gt=F("first_contact_due")))
        .exclude(sla_breaches__due_at=F("first_contact_due"))
        .values_list("pk", "store_id", "owner_id", "first_contact_due", "source", "transferred_at")
    )
    rows = [
        (
            pk,
            store_id,
            owner_id,
            due_at,
            BreachKind.MANUFACTURER_48H
            if source == Source.MANUFACTURER and transferred_at is None
            else BreachKind.TRANSFER,
        )
        for pk, store_id, owner_id, due_at, source, transferred_at in overdue.iterator()
    ]
    return sum(_insert_new(rows[i : i + 500], now=now) for i in range(0, len(rows), 500))


def _insert_new(rows, *, now) -> int:
    """INSERT … ON CONFLICT DO NOTHING RETURNING: the rows this sweep really
    added, even with another sweep inserting the same breaches at once."""
    if not rows:
        return 0
    qn = connection.ops.quote_name
    adapt = connection.ops.adapt_datetimefield_value
    columns = ("lead_id", "store_id", "owner_id", "due_at", "kind", "breached_at")
    values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(rows))
    params = [
        value
        for lead_id, store_id, owner_id, due_at, kind in rows
        for value in (lead_id, store_id, owner_id, adapt(due_at), kind, adapt(now))
    ]
    # Identifiers are quoted model names; every value is a query parameter.
    table = qn(SlaBreach._meta.db_table)
    names = ", ".join(map(qn, columns))
    conflict = f"{qn('lead_id')}, {qn('due_at')}"
    sql = f"INSERT INTO {table} ({names}) VALUES {values} "  # noqa: S608
    sql += f"ON CONFLICT ({conflict}) DO NOTHING RETURNING {qn('id')}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return len(cursor.fetchall())


def flag_overdue_appointments(*, now=None) -> int:
    """Appointments neither arrived nor no-show a grace period after their
    time go to the manager to confirm, so the visit figures stay true."""
    now = now or timezone.now()
    grace = FollowupPolicy.objects.value_by_store("appointment_grace_hours")
    flagged = 0
    stores = (
        Appointment.objects.filter(
            status__in=PENDING_APPOINTMENT, flagged_at__isnull=True, scheduled_at__lt=now
        )
        .values_list("store_id", flat=True)
        .distinct()
    )
    for store_id in stores:
        cutoff = now - timedelta(hours=grace[store_id])
        flagged += Appointment.objects.filter(
            Q(store_id=store_id),
            status__in=PENDING_APPOINTMENT,
            flagged_at__isnull=True,
            scheduled_at__lt=cutoff,
        ).update(flagged_at=now)
    return flagged
