"""Reads for the call queue, the supervisor's team health and the breach list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from dcc.timeutils import local_day_start
from followups.models import Appointment, AppointmentStatus, SlaBreach
from leads.models import Lead, Status

QUEUE_SECTION_LIMIT = 200


@dataclass
class QueueItem:
    kind: str  # "overdue" | "new" | "confirm" | "today" | "escalated"
    lead: Lead
    deadline: datetime | None
    appointment: Appointment | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}-{self.appointment.pk if self.appointment else self.lead.pk}"


def _lead_rows(queryset):
    return queryset.select_related("customer", "intended_model", "channel")[:QUEUE_SECTION_LIMIT]


def queue_for_agent(*, agent, now: datetime | None = None) -> list[QueueItem]:
    """Today's call queue (API.md): overdue follow-ups first, then new leads by
    their first-contact deadline, tomorrow's appointments to confirm, then
    today's follow-ups. Four indexed queries, each bounded, whatever the
    number of leads the agent holds.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    today_start = local_day_start(today)
    tomorrow_start = local_day_start(today + timedelta(days=1))
    day_after_start = local_day_start(today + timedelta(days=2))
    open_leads = Lead.objects.open().filter(owner=agent)

    overdue = _lead_rows(
        open_leads.filter(next_followup_at__lt=today_start).order_by("next_followup_at")
    )
    new = _lead_rows(
        open_leads.filter(status=Status.NEW, first_contacted_at__isnull=True).order_by(
            "first_contact_due", "received_at"
        )
    )
    confirm = (
        Appointment.objects.filter(
            agent=agent,
            status=AppointmentStatus.BOOKED,
            scheduled_at__gte=tomorrow_start,
            scheduled_at__lt=day_after_start,
        )
        .select_related("lead__customer", "lead__intended_model", "lead__channel", "receiver")
        .order_by("scheduled_at")[:QUEUE_SECTION_LIMIT]
    )
    due_today = _lead_rows(
        open_leads.filter(
            next_followup_at__gte=today_start, next_followup_at__lt=tomorrow_start
        ).order_by("next_followup_at")
    )
    items = [QueueItem("overdue", lead, lead.next_followup_at) for lead in overdue]
    # New leads without a hard deadline (web, inbound) sort after those with one.
    items += [QueueItem("new", lead, lead.first_contact_due) for lead in new]
    items += [
        QueueItem("confirm", appointment.lead, appointment.scheduled_at, appointment)
        for appointment in confirm
    ]
    items += [QueueItem("today", lead, lead.next_followup_at) for lead in due_today]
    return items


def escalated_for_supervisor(*, supervisor, limit: int = QUEUE_SECTION_LIMIT):
    """Leads whose unanswered attempts passed the store's limit before their
    deadline: the supervisor's own queue."""
    return (
        Lead.objects.visible_to(supervisor)
        .open()
        .filter(escalated_at__isnull=False, unanswered_attempts__gt=0)
        .select_related("customer", "owner")
        .order_by("first_contact_due")[:limit]
    )


def open_breaches_for(*, user):
    return SlaBreach.objects.visible_to(user).open()
