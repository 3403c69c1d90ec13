"""The first-contact deadlines (DESIGN §2 "Rules with clocks") and the
appointment grace check, run by Celery beat (``followups.tasks``).

Both are safe to run twice, or twice at once: a breach is one row per lead
and deadline under a unique constraint (inserted with ON CONFLICT DO NOTHING
RETURNING, so each sweep counts only what it added), and an appointment is
flagged by a conditional UPDATE on ``flagged_at IS NULL``.
"""

from datetime import timedelta

from django.db import connection
from django.db.models import F, Q
from django.utils import timezone

from followups.models import PENDING_APPOINTMENT, Appointment, BreachKind, FollowupPolicy, SlaBreach
from leads.models import Lead, Source

CATCH_UP = timedelta(days=30)


def sweep_breaches(*, now=None) -> int:
    """Flag every open lead whose first-contact deadline passed without a
    logged call. Returns how many breaches are new."""
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
