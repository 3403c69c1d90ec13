"""One pending visit per lead (booked or confirmed), by a partial unique
constraint. Leads that already have several keep their newest booking; the
others are cancelled first, with their unsent SMS, and a history row saying
why (the constraint could not be created otherwise)."""

from django.db import migrations, models
from django.db.models import Count
from django.utils import timezone

PENDING = ["booked", "confirmed"]
REASON = "duplicate pending visit: the newest booking is kept / 重复的待到店邀约，保留最新一条"


def cancel_duplicate_pending(apps, schema_editor):
    Appointment = apps.get_model("followups", "Appointment")
    HistoricalAppointment = apps.get_model("followups", "HistoricalAppointment")
    SmsMessage = apps.get_model("followups", "SmsMessage")
    history_fields = {field.attname for field in HistoricalAppointment._meta.concrete_fields}
    now = timezone.now()
    leads = (
        Appointment.objects.filter(status__in=PENDING)
        .values("lead_id")
        .annotate(pending=Count("id"))
        .filter(pending__gt=1)
        .values_list("lead_id", flat=True)
    )
    for lead_id in list(leads):
        pending = Appointment.objects.filter(lead_id=lead_id, status__in=PENDING)
        for appointment in pending.order_by("-created_at", "-pk")[1:]:
            appointment.status = "cancelled"
            appointment.cancelled_at = now
            appointment.save(update_fields=["status", "cancelled_at"])
            SmsMessage.objects.filter(appointment_id=appointment.pk, status="pending").update(
                status="cancelled"
            )
            HistoricalAppointment.objects.create(
                **{
                    field.attname: getattr(appointment, field.attname)
                    for field in Appointment._meta.concrete_fields
                    if field.attname in history_fields
                },
                history_date=now,
                history_type="~",
                history_change_reason=REASON,
            )


class Migration(migrations.Migration):
    dependencies = [
        ("followups", "0003_telephony_settings_and_verified_call"),
    ]

    operations = [
        migrations.RunPython(cancel_duplicate_pending, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="appointment",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status__in", ["booked", "confirmed"])),
                fields=("lead",),
                name="appt_one_pending_per_lead",
            ),
        ),
    ]
