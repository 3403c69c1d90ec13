"""The visits list (store visits: the ones to confirm, today's, tomorrow's,
the week's) and the actions on a pending visit, which answer where they were
started: the queue's work panel, the lead page or the list."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext_lazy

from dcc.htmx import is_partial
from dcc.policy import get_visible_or_404
from dcc.timeutils import local_day_start
from desk.actions import (
    APPOINTMENT_ACTIONS,
    appointment_action_entry,
    appointment_actions,
    offered_actions,
)
from desk.views import lead, queue
from followups import selectors
from followups.models import Appointment
from leads.forms import add_service_errors
from leads.lifecycle import LeadStateError

PAGE_SIZE = 50

# Where an appointment action was started, and so what it answers with.
RETURN_TO = ("queue", "lead", "list")


def appointment_action(request, pk, action):
    appointment = get_visible_or_404(
        Appointment.objects.select_related("lead__customer", "store"), request.user, pk=pk
    )
    spec = APPOINTMENT_ACTIONS.get(action)
    if spec is None:
        raise Http404("unknown action")
    if request.method == "GET":
        return _action_form(request, appointment, action)
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    return_to = _return_to(request.POST)
    form = spec.form(request.POST, appointment=appointment, user=request.user)
    ok = False
    if form.is_valid():
        try:
            result = spec.perform(request.user, appointment, form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except LeadStateError as exc:
            messages.error(request, str(exc))
        else:
            ok = True
            messages.success(request, spec.done(result))
    lead_pk = appointment.lead_id
    if not is_partial(request):
        if not ok:
            for error in form.errors.values():
                messages.error(request, " ".join(error))
        if return_to == "queue":
            return redirect("desk:home")
        if return_to == "list":
            return redirect("desk:appointments")
        return redirect("desk:lead", pk=lead_pk)
    if return_to == "queue":
        if ok:
            return queue.next_panel(request, lead_pk)
        item = queue.item_for(request, f"confirm-{appointment.pk}")
        forms = appointment_actions(appointment, request.user, bound=form, action=action)
        return render(
            request,
            "desk/partials/work_panel.html",
            queue.panel_context(request, item, appointment_forms=forms),
        )
    if return_to == "list":
        return appointments(request)
    return lead.render_lead_panel(request, lead_pk)


def _return_to(data) -> str:
    """The page an action on a visit answers with (the lead page unless a
    known one is named)."""
    return_to = data.get("return_to")
    return return_to if return_to in RETURN_TO else "lead"


def _action_form(request, appointment, action):
    """One visit action's empty form, which the lead page fetches (htmx) when
    the action is opened; without htmx, a page with that form alone. Only
    the actions the visit offers; posted as before (``appointment_action``)."""
    if action not in offered_actions(appointment):
        raise Http404("action not offered")
    form = APPOINTMENT_ACTIONS[action].form(appointment=appointment, user=request.user)
    entry = appointment_action_entry(action, form)
    if is_partial(request):
        response = render(
            request, "desk/partials/appointment_action_fields.html", {"action": entry}
        )
    else:
        context = {
            "appointment": appointment,
            "lead": appointment.lead,
            "forms": [entry],
            "return_to": _return_to(request.GET),
            "opened": True,
        }
        response = render(request, "desk/appointment_action.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


APPOINTMENT_VIEWS = {
    "flagged": gettext_lazy("To confirm"),
    "today": gettext_lazy("Today"),
    "tomorrow": gettext_lazy("Tomorrow"),
    "upcoming": gettext_lazy("Next 7 days"),
}


def appointments(request):
    """Store visits: the ones nobody marked after their time (for the manager
    to confirm), today's, tomorrow's and the week's. Consultants see the
    visits handed to them; agents their own bookings (the policy's scope)."""
    view = request.GET.get("view") or request.POST.get("view") or "flagged"
    view = view if view in APPOINTMENT_VIEWS else "flagged"
    today = timezone.localdate()
    start = local_day_start(today)
    if view == "flagged":
        queryset = selectors.flagged_appointments(user=request.user)
    else:
        days = {"today": (0, 1), "tomorrow": (1, 2), "upcoming": (0, 7)}[view]
        queryset = (
            Appointment.objects.visible_to(request.user)
            .filter(
                scheduled_at__gte=start + timedelta(days=days[0]),
                scheduled_at__lt=start + timedelta(days=days[1]),
            )
            .select_related("lead__customer", "agent", "receiver")
            .order_by("scheduled_at")
        )
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    for appointment in page:
        appointment.forms = appointment_actions(appointment, request.user)
    context = {
        "page": page,
        "view": view,
        "views": APPOINTMENT_VIEWS.items(),
        "flagged_count": selectors.flagged_appointments(user=request.user).count(),
        "now": timezone.now(),
    }
    template = (
        "desk/partials/appointment_table.html" if is_partial(request) else "desk/appointments.html"
    )
    return render(request, template, context)
