"""What the working screens' small forms do: ``Action`` (one form, one
service, one message), the actions a pending store visit offers (on the
lead page, in the queue's work panel and in the visits list) and what a
logged contact says."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from followups import services
from followups.forms import ArriveForm, CancelForm, ConfirmForm, NoShowForm, RescheduleForm
from followups.models import PENDING_APPOINTMENT, AppointmentStatus


@dataclass(frozen=True)
class Action:
    form: type
    perform: Callable  # (actor, lead, cleaned_data) -> result of one service
    done: Callable  # (result) -> message
    label: str  # the tab
    button: str
    style: str = "primary"
    icon: str = "pencil"
    capability: str | None = None


def logged_message(followup) -> str:
    lead = followup.lead
    name = lead.customer.name
    if followup.next_followup_at and lead.is_open:
        when = timezone.localtime(followup.next_followup_at).strftime("%m-%d %H:%M")
        return _("%(name)s: %(result)s logged; next follow-up %(when)s.") % {
            "name": name,
            "result": followup.get_result_display(),
            "when": when,
        }
    return _("%(name)s: %(result)s logged.") % {
        "name": name,
        "result": followup.get_result_display(),
    }


APPOINTMENT_ACTIONS = {
    "confirm": Action(
        ConfirmForm,
        lambda actor, appt, data: services.appointment_confirm(actor=actor, appointment=appt),
        lambda _appointment: _("Visit confirmed."),
        label=gettext_lazy("Customer confirmed"),
        button=gettext_lazy("Customer confirmed"),
        style="success",
        icon="check2-circle",
    ),
    "arrive": Action(
        ArriveForm,
        lambda actor, appt, data: services.appointment_arrive(
            actor=actor,
            appointment=appt,
            arrived_at=data.get("arrived_at"),
            test_drive=data["test_drive"],
            group_size=data["group_size"],
        ),
        lambda _appointment: _("Visit recorded."),
        label=gettext_lazy("Arrived"),
        button=gettext_lazy("Arrived"),
        style="success",
        icon="door-open",
    ),
    "no-show": Action(
        NoShowForm,
        lambda actor, appt, data: services.appointment_no_show(actor=actor, appointment=appt),
        lambda _appointment: _("Marked as no-show: the lead is back in follow-up."),
        label=gettext_lazy("No-show"),
        button=gettext_lazy("No-show"),
        style="outline-danger",
        icon="person-x",
    ),
    "reschedule": Action(
        RescheduleForm,
        lambda actor, appt, data: services.appointment_reschedule(
            actor=actor,
            appointment=appt,
            scheduled_at=data["scheduled_at"],
            reason=data["reason"],
        ),
        lambda _appointment: _("Visit moved; the customer gets a new SMS."),
        label=gettext_lazy("Reschedule"),
        button=gettext_lazy("Reschedule"),
        style="outline-primary",
        icon="calendar-event",
    ),
    "cancel": Action(
        CancelForm,
        lambda actor, appt, data: services.appointment_cancel(
            actor=actor, appointment=appt, reason=data["reason"]
        ),
        lambda _appointment: _("Visit cancelled; its reminders are withdrawn."),
        label=gettext_lazy("Cancel visit"),
        button=gettext_lazy("Cancel visit"),
        style="outline-secondary",
        icon="calendar-x",
    ),
}


def offered_actions(appointment) -> list[str]:
    """The actions a store visit offers: none once it is done (arrived,
    no-show, cancelled); "confirm" only while it is booked."""
    if appointment.status not in PENDING_APPOINTMENT:
        return []
    return [
        slug
        for slug in APPOINTMENT_ACTIONS
        if slug != "confirm" or appointment.status == AppointmentStatus.BOOKED
    ]


def appointment_actions(appointment, user, bound=None, action=None, *, lazy=False) -> list[dict]:
    """The actions a pending appointment offers, each with its form (the one
    just refused, with its errors, in place of a fresh one). ``lazy``: no
    form is built (but the refused one); the page fetches an action's form
    when it is opened (``desk.views.visits.appointment_action`` answers a
    GET with it). ``fields``: whether the action asks anything before it is
    posted (else it is one button)."""
    actions = []
    for slug in offered_actions(appointment):
        if slug == action:
            form = bound
        elif lazy:
            form = None
        else:
            form = APPOINTMENT_ACTIONS[slug].form(appointment=appointment, user=user)
        actions.append(appointment_action_entry(slug, form))
    return actions


def appointment_action_entry(slug: str, form=None) -> dict:
    """One visit action as the templates show it: its form (None until it
    is fetched) and whether it asks anything before it is posted."""
    spec = APPOINTMENT_ACTIONS[slug]
    return {"slug": slug, "form": form, "spec": spec, "fields": bool(spec.form.base_fields)}
