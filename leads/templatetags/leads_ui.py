"""Small presentation helpers of the lead pages: badge colours and the
first-contact countdown. No rule lives here; the deadline itself is the
lead's ``first_contact_due`` set by the service."""

from django import template
from django.utils.translation import gettext_lazy as _

from leads.models import Level, Status

register = template.Library()

STATUS_CLASSES = {
    Status.NEW: "text-bg-primary",
    Status.ACTIVE: "text-bg-info",
    Status.INVITED: "text-bg-warning",
    Status.VISITED: "text-bg-success",
    Status.ORDERED: "text-bg-success",
    Status.DELIVERED: "text-bg-dark",
    Status.DEFEAT_PENDING: "text-bg-warning",
    Status.DEFEATED: "text-bg-secondary",
    Status.INVALID: "text-bg-light border",
}
LEVEL_CLASSES = {
    Level.H: "text-bg-danger",
    Level.A: "text-bg-warning",
    Level.B: "text-bg-info",
    Level.C: "text-bg-secondary",
}

# Also read by static/leads/assignment.js (through data attributes) to tick
# the countdown live: keep the placeholders %(hours)s and %(minutes)s.
TIME_LEFT = _("%(hours)s h %(minutes)s min left")
OVERDUE = _("overdue by %(hours)s h %(minutes)s min")


@register.filter
def status_class(status: str) -> str:
    return STATUS_CLASSES.get(status, "text-bg-secondary")


@register.filter
def level_class(level: str) -> str:
    return LEVEL_CLASSES.get(level, "text-bg-secondary")


@register.simple_tag
def time_left(due, now) -> str:
    """ "5 h 12 min left" / "overdue by 3 h 4 min" until ``due``; "—" without one."""
    if due is None:
        return "—"
    seconds = int((due - now).total_seconds())
    template_string = TIME_LEFT if seconds >= 0 else OVERDUE
    minutes = abs(seconds) // 60
    return template_string % {"hours": minutes // 60, "minutes": minutes % 60}


@register.simple_tag
def deadline_formats() -> dict:
    return {"left": str(TIME_LEFT), "overdue": str(OVERDUE)}


@register.filter
def is_overdue(lead, now) -> bool:
    """Past its first-contact deadline and not yet contacted."""
    return bool(
        lead.first_contact_due and not lead.first_contacted_at and lead.first_contact_due < now
    )
