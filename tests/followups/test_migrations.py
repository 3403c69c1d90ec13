"""The migration that brings the one-pending-visit constraint copes with
leads that already have several pending visits: the newest booking is kept,
the others are cancelled (with their unsent SMS) and say why."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from followups.models import Appointment, AppointmentStatus, SmsKind, SmsMessage, SmsStatus

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("followups", "0003_telephony_settings_and_verified_call")


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


def test_existing_duplicate_pending_visits_are_cancelled_but_the_newest(alice, make_lead):
    lead, other = make_lead(alice), make_lead(alice)
    now = timezone.now()
    migrate([BEFORE])
    # The rows are written as the schema then was: today's model has
    # columns added by later migrations.
    OldAppointment = (
        MigrationExecutor(connection)
        .loader.project_state([BEFORE])
        .apps.get_model("followups", "Appointment")
    )
    try:

        def visit(lead, status, *, booked_ago):
            appointment = OldAppointment.objects.create(
                store_id=lead.store_id,
                lead_id=lead.pk,
                agent_id=alice.pk,
                status=status,
                scheduled_at=now + timedelta(days=2),
            )
            OldAppointment.objects.filter(pk=appointment.pk).update(created_at=now - booked_ago)
            return Appointment(pk=appointment.pk, lead=lead, store=lead.store)

        oldest = visit(lead, AppointmentStatus.CONFIRMED, booked_ago=timedelta(days=3))
        older = visit(lead, AppointmentStatus.BOOKED, booked_ago=timedelta(days=2))
        newest = visit(lead, AppointmentStatus.BOOKED, booked_ago=timedelta(days=1))
        arrived = visit(lead, AppointmentStatus.ARRIVED, booked_ago=timedelta(hours=1))
        alone = visit(other, AppointmentStatus.BOOKED, booked_ago=timedelta(days=5))

        def sms(appointment, kind, status):
            return SmsMessage.objects.create(
                store=lead.store,
                lead=appointment.lead,
                appointment=appointment,
                kind=kind,
                phone=appointment.lead.phone,
                idempotency_key=f"appointment:{appointment.pk}:v1:{kind}",
                status=status,
                send_after=now,
            )

        sent = sms(older, SmsKind.BOOKING_CUSTOMER, SmsStatus.SENT)
        reminder = sms(older, SmsKind.REMINDER_CUSTOMER, SmsStatus.PENDING)
        kept_reminder = sms(newest, SmsKind.REMINDER_CUSTOMER, SmsStatus.PENDING)
        newest_history = Appointment.history.filter(id=newest.pk).count()
    finally:
        migrate(None)

    def status(row):
        return type(row).objects.get(pk=row.pk).status

    assert [status(a) for a in (oldest, older, newest, arrived, alone)] == [
        "cancelled",
        "cancelled",
        "booked",
        "arrived",
        "booked",
    ]
    assert [status(m) for m in (sent, reminder, kept_reminder)] == ["sent", "cancelled", "pending"]
    for cancelled in (oldest, older):
        row = Appointment.objects.get(pk=cancelled.pk)
        assert row.cancelled_at is not None
        last = row.history.order_by("-history_id").first()
        assert last.status == "cancelled"
        assert last.history_change_reason.startswith("duplicate pending visit")
    # untouched: the migration wrote no history row for it
    assert Appointment.objects.get(pk=newest.pk).history.count() == newest_history
