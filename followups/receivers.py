"""Follow-ups' answers to what happens to leads elsewhere."""

from django.dispatch import receiver
from django.utils import timezone

from leads.events import lead_closed


@receiver(lead_closed, dispatch_uid="followups.cancel_visits_of_closed_lead")
def cancel_visits_of_closed_lead(sender, *, lead, status, **kwargs):
    """A defeated, invalid or delivered lead keeps no booked visit: the
    appointment is cancelled and its SMS withdrawn, so no reminder reaches a
    customer the store has stopped working."""
    from followups import sms
    from followups.models import PENDING_APPOINTMENT, Appointment, AppointmentStatus

    now = timezone.now()
    for appointment in Appointment.objects.filter(lead=lead, status__in=PENDING_APPOINTMENT):
        sms.cancel_for_appointment(appointment)
        appointment.status = AppointmentStatus.CANCELLED
        appointment.cancelled_at = now
        appointment._change_reason = f"lead {status}"
        appointment.save(update_fields=["status", "cancelled_at"])
