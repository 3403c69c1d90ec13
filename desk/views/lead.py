"""The lead page: the lead's card, its store visits, calls and timeline, and
one small form per action (log a contact, book or record a visit, level,
details, defeat, invalid, deal, and the manager's assign, activate, merge,
approve or reject a defeat).

Each action is one form and one service (``leads.services`` or
``followups.services``); a service's ``ValidationError`` becomes form errors,
``LeadStateError`` a message, ``PermissionDenied`` Django's 403. htmx: an
action answers with the re-rendered panel, errors inline; without htmx it
redirects back to the page. Phone numbers are shown in full (the decision in
``leads.views``).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dcc.htmx import is_partial
from dcc.policy import can, get_visible_or_404, require
from desk.actions import Action, appointment_actions, logged_message
from followups import services as followup_services
from followups import sms as followup_sms
from followups.forms import AppointmentBookForm, FollowupForm, VisitForm
from followups.models import SmsKind
from leads import phones, selectors, services
from leads.forms import (
    ActivateForm,
    ApproveDefeatForm,
    AssignForm,
    ClearEscalationForm,
    DealForm,
    DefeatForm,
    InvalidateForm,
    LeadEditForm,
    LevelForm,
    MergeForm,
    ReferrerForm,
    RejectDefeatForm,
    SupervisorNoteForm,
    add_service_errors,
)
from leads.lifecycle import LeadStateError, may_work
from leads.models import RECONTACT_STATUSES, Lead, Status


def _defeat_done(lead: Lead) -> str:
    if lead.status == Status.DEFEAT_PENDING:
        return _("Defeat request sent to the manager for approval.")
    return _("Lead marked as defeated.")


def booked_message(appointment) -> str:
    """What a booking says; it warns when the receiver gets no SMS."""
    receiver = appointment.receiver
    text = _("Store visit booked; the SMS are on their way.")
    if receiver is not None and not receiver.mobile:
        text += " " + _(
            "%(name)s has no mobile number: they get no booking SMS. Tell them yourself."
        ) % {"name": receiver.display_name}
    if appointment.lead.owner_id == getattr(receiver, "pk", None) != appointment.agent_id:
        text += " " + _("The lead now belongs to %(name)s.") % {"name": receiver.display_name}
    return text


ACTIONS: dict[str, Action] = {
    "followup": Action(
        FollowupForm,
        lambda actor, lead, data: followup_services.followup_log(
            actor=actor, lead=lead, **FollowupForm.kwargs_from(data)
        ),
        logged_message,
        label=gettext_lazy("Log contact"),
        button=gettext_lazy("Log contact"),
        style="primary",
        icon="telephone",
    ),
    "book": Action(
        AppointmentBookForm,
        lambda actor, lead, data: followup_services.appointment_book(
            actor=actor,
            lead=lead,
            scheduled_at=data["scheduled_at"],
            purpose=data["purpose"],
            visit_type=data["visit_type"],
            receiver=data["receiver"],
            note=data["note"],
        ),
        lambda appointment: booked_message(appointment),
        label=gettext_lazy("Book visit"),
        button=gettext_lazy("Book visit"),
        style="success",
        icon="calendar-plus",
    ),
    "visit": Action(
        VisitForm,
        lambda actor, lead, data: followup_services.visit_record(actor=actor, lead=lead, **data),
        lambda appointment: _("Visit recorded (visit %(n)s).") % {"n": appointment.visit_number},
        label=gettext_lazy("Visit"),
        button=gettext_lazy("Record visit"),
        style="success",
        icon="door-open",
    ),
    "level": Action(
        LevelForm,
        lambda actor, lead, data: services.lead_change_level(
            actor=actor, lead=lead, level=data["level"], reason=data["reason"]
        ),
        lambda lead: _("Level changed to %(level)s.") % {"level": lead.level},
        label=gettext_lazy("Level"),
        button=gettext_lazy("Change level"),
        style="primary",
        icon="bar-chart-steps",
    ),
    "edit": Action(
        LeadEditForm,
        lambda actor, lead, data: services.lead_update(actor=actor, lead=lead, **data),
        lambda lead: _("Details saved."),
        label=gettext_lazy("Details"),
        button=gettext_lazy("Save details"),
        style="primary",
        icon="pencil-square",
    ),
    "referrer": Action(
        ReferrerForm,
        lambda actor, lead, data: services.lead_set_referrer(
            actor=actor, lead=lead, phone=data["phone"]
        ),
        lambda lead: _("Referrer saved."),
        label=gettext_lazy("Referral"),
        button=gettext_lazy("Save referrer"),
        style="primary",
        icon="people",
    ),
    "defeat": Action(
        DefeatForm,
        lambda actor, lead, data: services.lead_defeat(
            actor=actor,
            lead=lead,
            reason=data["reason"],
            note=data["note"],
            recontact_at=data["recontact_at"],
        ),
        _defeat_done,
        label=gettext_lazy("Defeat"),
        button=gettext_lazy("Mark defeated"),
        style="danger",
        icon="x-circle",
    ),
    "invalidate": Action(
        InvalidateForm,
        lambda actor, lead, data: services.lead_invalidate(
            actor=actor, lead=lead, reason=data["reason"], note=data["note"]
        ),
        lambda lead: _("Lead marked as invalid."),
        label=gettext_lazy("Invalid"),
        button=gettext_lazy("Mark invalid"),
        style="outline-danger",
        icon="slash-circle",
    ),
    "deal": Action(
        DealForm,
        lambda actor, lead, data: services.deal_record(
            actor=actor,
            lead=lead,
            vehicle_model=data["vehicle_model"],
            stage=data["stage"],
            deal_at=data["deal_at"],
        ),
        lambda deal: _("Deal recorded (%(card)s-card).") % {"card": deal.card},
        label=gettext_lazy("Deal"),
        button=gettext_lazy("Record deal"),
        style="success",
        icon="cart-check",
    ),
    "assign": Action(
        AssignForm,
        lambda actor, lead, data: services.lead_assign(
            actor=actor, lead=lead, owner=data["owner"], reason=data["reason"]
        ),
        lambda lead: _("Lead given to %(name)s.") % {"name": lead.owner},
        label=gettext_lazy("Assign"),
        button=gettext_lazy("Assign"),
        style="primary",
        icon="person-check",
        # A manager in the store, a supervisor in their team: the service narrows.
        capability="leads.reassign",
    ),
    "note": Action(
        SupervisorNoteForm,
        lambda actor, lead, data: services.lead_supervisor_note(
            actor=actor, lead=lead, note=data["note"]
        ),
        lambda lead: _("Note added to the lead's history."),
        label=gettext_lazy("Note"),
        button=gettext_lazy("Add note"),
        style="primary",
        icon="chat-left-text",
        capability="leads.supervise",
    ),
    "clear-escalation": Action(
        ClearEscalationForm,
        lambda actor, lead, data: services.lead_clear_escalation(
            actor=actor, lead=lead, note=data["note"]
        ),
        lambda lead: _("Escalation cleared."),
        label=gettext_lazy("Clear escalation"),
        button=gettext_lazy("Clear escalation"),
        style="outline-secondary",
        icon="check2",
        capability="leads.supervise",
    ),
    "activate": Action(
        ActivateForm,
        lambda actor, lead, data: services.lead_activate(
            actor=actor, lead=lead, owner=data["owner"], reason=data["reason"]
        ),
        lambda lead: _("Lead re-activated and given to %(name)s.") % {"name": lead.owner},
        label=gettext_lazy("Activate"),
        button=gettext_lazy("Re-activate"),
        style="warning",
        icon="lightning-charge",
        capability="leads.assign",
    ),
    "merge": Action(
        MergeForm,
        lambda actor, lead, data: services.customer_merge(
            actor=actor, keep=lead.customer, merge=data["other_lead"].customer
        ),
        lambda customer: _("Customer records merged into %(name)s.") % {"name": customer.name},
        label=gettext_lazy("Merge"),
        button=gettext_lazy("Merge into this customer"),
        style="outline-secondary",
        icon="union",
        capability="leads.merge_customers",
    ),
    "approve-defeat": Action(
        ApproveDefeatForm,
        lambda actor, lead, data: services.lead_defeat_approve(actor=actor, lead=lead),
        lambda lead: _("Defeat approved."),
        label=gettext_lazy("Approve defeat"),
        button=gettext_lazy("Approve defeat"),
        style="danger",
        icon="check2-circle",
        capability="leads.assign",
    ),
    "reject-defeat": Action(
        RejectDefeatForm,
        lambda actor, lead, data: services.lead_defeat_reject(
            actor=actor, lead=lead, note=data["note"]
        ),
        lambda lead: _("Defeat rejected: the lead is back in work."),
        label=gettext_lazy("Reject defeat"),
        button=gettext_lazy("Reject defeat"),
        style="outline-secondary",
        icon="arrow-counterclockwise",
        capability="leads.assign",
    ),
}


def _actions_for(lead: Lead, user) -> list[str]:
    """Which forms the page offers. Only a convenience: the services decide
    (a refused action comes back as a message). A visit's receiver who may
    not work the lead reads it and acts on the visit only."""
    if not may_work(user, lead):
        return []
    shown = ["edit", "referrer"]
    if lead.is_open:
        shown[:0] = ["level"]
        if lead.status != Status.DEFEAT_PENDING:
            shown[:0] = ["followup", "book", "visit"]
        if lead.status != Status.DEFEAT_PENDING:
            shown += ["defeat", "invalidate"]
    elif lead.recontact_at and lead.status in RECONTACT_STATUSES:
        shown[:0] = ["followup"]  # 战败回访, after-sales call: logged, never reopening
    if lead.is_open or lead.status == Status.DELIVERED:
        shown.append("deal")
    if services.may_assign(user) and lead.is_open and lead.status != Status.DEFEAT_PENDING:
        shown.append("assign")
    if can(user, "leads.supervise") and lead.is_open:
        shown.append("note")
        if lead.escalated_at is not None:
            shown.append("clear-escalation")
    if can(user, "leads.assign"):
        if lead.status == Status.DEFEAT_PENDING:
            shown += ["approve-defeat", "reject-defeat"]
        if lead.status in (Status.DEFEATED, Status.INVALID):
            shown.insert(0, "activate")
    if can(user, "leads.merge_customers"):
        shown.append("merge")
    return shown


def _detail_lead(user, pk) -> Lead:
    """The lead with what every lead page shows, in one query. The relations
    only some leads have (a defeat's reason and requester, a handover
    consultant, a referrer) are read when the card shows them: joined always,
    they made this the page's slowest query to plan."""
    queryset = Lead.objects.select_related(
        "customer", "owner", "channel", "intended_model", "store", "created_by"
    )
    return get_visible_or_404(queryset, user, pk=pk)


def _detail_context(request, lead: Lead, *, bound=None, active: str | None = None) -> dict:
    user = request.user
    slugs = _actions_for(lead, user)
    if active is None:
        active = request.GET.get("action")
    if active not in slugs:
        active = slugs[0] if slugs else None
    # Only the open tab's form is built and rendered; the others come on
    # demand (``lead_action`` answers a GET with the form, htmx fetches it
    # when its tab is first opened): most visits use one form, and building
    # and rendering all of them was most of the page's time.
    forms = dict.fromkeys(slugs)
    if active is not None:
        if bound is not None:
            forms[active] = bound
            first_error = next((name for name in bound.errors if name in bound.fields), None)
            if first_error:
                bound.fields[first_error].widget.attrs["autofocus"] = True
        else:
            forms[active] = ACTIONS[active].form(lead=lead, user=user)
    return {
        "lead": lead,
        "region": phones.region(lead.phone),
        "deals": list(lead.deals.select_related("vehicle_model", "agent").order_by("created_at")),
        "other_leads": list(
            selectors.customer_leads(user=user, customer=lead.customer)
            .exclude(pk=lead.pk)
            .select_related(None)
            .select_related("owner")  # what the card's list shows of them
        ),
        "referrals": selectors.referral_count(customer=lead.customer),
        "actions": [{"slug": slug, "form": forms[slug], "spec": ACTIONS[slug]} for slug in slugs],
        "appointments": _appointments_of(lead, user),
        "receiving_only": not slugs,
        "defeat_rejection": selectors.last_defeat_rejection(lead)
        if lead.status != Status.DEFEAT_PENDING
        else None,
        "active_action": active,
        "now": timezone.now(),
        "partial": is_partial(request),
    }


def _appointments_of(lead: Lead, user) -> list:
    """The lead's store visits, newest first, each pending one with its
    actions (confirm, arrive, no-show, reschedule, cancel). Their forms are
    not built here: an action that asks something fetches its form when it
    is opened (``desk.views.visits.appointment_action`` answers a GET)."""
    appointments = list(lead.appointments.select_related("receiver").order_by("-scheduled_at"))
    for appointment in appointments:
        appointment.forms = appointment_actions(appointment, user, lazy=True)
    return appointments


def render_lead_panel(request, pk):
    """The lead's card, actions and timeline as an htmx fragment (after an
    action taken elsewhere on the page, e.g. on one of its appointments)."""
    lead = _detail_lead(request.user, pk)
    return render(request, "desk/partials/lead_panel.html", _detail_context(request, lead))


def lead_detail(request, pk):
    lead = _detail_lead(request.user, pk)
    template = "desk/partials/lead_panel.html" if is_partial(request) else "desk/lead.html"
    response = render(request, template, _detail_context(request, lead))
    patch_vary_headers(response, ["HX-Request"])
    return response


def lead_action(request, pk, action):
    """One small form per action, posted here (htmx or not). The answer to an
    htmx post is the re-rendered card and timeline, errors inline."""
    lead = get_visible_or_404(Lead, request.user, pk=pk)  # 404 first: ids leak nothing
    spec = ACTIONS.get(action)
    if spec is None:
        raise Http404("unknown action")
    if spec.capability:
        require(request.user, spec.capability)
    if request.method == "GET":
        return _action_form(request, pk, action)
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    form = spec.form(request.POST, lead=lead, user=request.user)
    failed = None
    if form.is_valid():
        try:
            result = spec.perform(request.user, lead, form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
            failed = form
        except LeadStateError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, spec.done(result))
    else:
        failed = form
    if failed is None and not Lead.objects.visible_to(request.user).filter(pk=pk).exists():
        # Handed on (mode two, a reassignment): the lead left the actor's scope.
        if is_partial(request):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = reverse("desk:home")
            return response
        return redirect("desk:home")
    if failed is None and not is_partial(request):
        return redirect("desk:lead", pk=lead.pk)
    lead = _detail_lead(request.user, pk)
    context = _detail_context(request, lead, bound=failed, active=action)
    template = "desk/partials/lead_panel.html" if is_partial(request) else "desk/lead.html"
    return render(request, template, context)


def _action_form(request, pk, action):
    """One action's empty form (the tab the lead page loads on demand);
    without htmx, the lead page with that tab open. Only the actions the
    page would offer the user."""
    lead = _detail_lead(request.user, pk)
    if action not in _actions_for(lead, request.user):
        raise Http404("action not offered")
    if not is_partial(request):
        return redirect(f"{reverse('desk:lead', args=[pk])}?action={action}")
    spec = ACTIONS[action]
    context = {
        "lead": lead,
        "action": {"slug": action, "form": spec.form(lead=lead, user=request.user), "spec": spec},
    }
    response = render(request, "desk/partials/lead_action_form.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def sms_preview(request, pk):
    """The exact SMS booking this visit would send (htmx, from the booking
    form as it is filled in): what the customer and the receiver will read."""
    lead = get_visible_or_404(Lead.objects.select_related("customer", "store"), request.user, pk=pk)
    form = AppointmentBookForm(request.GET, lead=lead, user=request.user)
    form.is_valid()  # what is valid so far is enough for a preview
    data = form.cleaned_data
    texts = []
    if data.get("scheduled_at") and data.get("visit_type"):
        texts = followup_sms.preview_for_visit(
            lead=lead,
            scheduled_at=data["scheduled_at"],
            visit_type=data["visit_type"],
            receiver=data.get("receiver"),
        )
    labels = dict(SmsKind.choices)
    return render(
        request,
        "desk/partials/sms_preview.html",
        {"texts": [{"kind": kind, "label": labels[kind], "text": text} for kind, text in texts]},
    )
