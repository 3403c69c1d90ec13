"""Follow-ups' answers to what happens to leads elsewhere."""

from django.dispatch import receiver
from django.utils import timezone

from leads.events import lead_closed, leads_merged


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


@receiver(lead_closed, dispatch_uid="followups.plan_aftercare_of_delivered_lead")
def plan_aftercare_of_delivered_lead(sender, *, lead, status, **kwargs):
    """成交客户定期回访 (seed 000): a customer who took delivery comes back to
    the owner's queue for the store's after-sales calls (by default 3 and 30
    days after delivery). The sender saves the lead after this receiver."""
    from followups.models import FollowupPolicy
    from leads.models import Status

    if status != Status.DELIVERED:
        return
    delivered = lead.deals.filter(delivered_at__isnull=False).order_by("-delivered_at").first()
    delivered_at = delivered.delivered_at if delivered else timezone.now()
    policy = FollowupPolicy.objects.for_store(lead.store_id)
    lead.recontact_at = policy.next_aftercare(delivered_at, after=delivered_at)
    lead.next_followup_at = None


@receiver(leads_merged, dispatch_uid="followups.move_work_of_merged_lead")
def move_work_of_merged_lead(sender, *, keep, merge, **kwargs):
    """Two leads became one: the follow-ups, visits and SMS of the one closed
    as merged now belong to the one kept."""
    from followups import services

    services.move_work_of_merged_lead(keep=keep, merge=merge)
