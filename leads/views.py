"""The lead pages: list, new lead, detail with its actions, and the manager's
assignment page.

Views are thin: rows come through ``leads.selectors`` (scoped by the policy),
single objects through ``get_visible_or_404`` (missing and not-yours are the
same 404), every write through one ``leads.services`` function. A service's
``ValidationError`` becomes form errors, ``LeadStateError`` a message,
``PermissionDenied`` Django's 403.

htmx: each page's view also answers its own fragments (STYLE "Front end"):
when ``request.htmx`` it renders the partial the page includes, so there is
one template per fragment and no second code path. A history-restore request
(back button after ``hx-push-url``) gets the whole page.

Phone numbers (decision taken for the whole app): a lead's number is shown in
full to whoever may see the lead. Scope already limits the rows to what the
user works on (an agent sees only their own leads) and agents must dial the
number, so masking it would only get in their way. The masked form
(``phones.masked``, 138****5678) is used only where someone is told about a
lead they may not open: the duplicate-entry message of the new-lead form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseNotAllowed, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_htmx.http import push_url

from dcc.htmx import is_partial
from dcc.policy import Level as ScopeLevel
from dcc.policy import can, capability_required, get_visible_or_404, require, scope_level
from followups import services as followup_services
from followups.forms import AppointmentBookForm, FollowupForm, VisitForm
from leads import phones, selectors, services
from leads.filters import LeadFilter
from leads.forms import (
    ActivateForm,
    ApproveDefeatForm,
    AssignForm,
    DealForm,
    DefeatForm,
    InvalidateForm,
    LeadCreateForm,
    LeadEditForm,
    LevelForm,
    MergeForm,
    RejectDefeatForm,
    add_service_errors,
)
from leads.lifecycle import LeadStateError
from leads.models import Lead, Source, Status
from leads.services import DuplicateLead

PAGE_SIZE = 25


def _detail_url(lead_or_pk) -> str:
    return reverse("leads:detail", args=[getattr(lead_or_pk, "pk", lead_or_pk)])


# ---------------------------------------------------------------- list


def _without_blanks(query: QueryDict) -> QueryDict:
    """The filter bar submits every field; empty ones mean "any"."""
    cleaned = QueryDict(mutable=True)
    for key, values in query.lists():
        kept = [value for value in values if value.strip()]
        if kept:
            cleaned.setlist(key, kept)
    return cleaned


def _filter_bar(lead_filter: LeadFilter, user) -> list[dict]:
    """The drop-downs of the filter bar, each one value or "all"."""
    form = lead_filter.form
    names = ["source", "channel", "status", "level"]
    if scope_level(user) is not ScopeLevel.OWN:
        names.append("owner")  # an agent's list holds only their own leads
    if user.sees_all_stores:
        names.append("store")
    selects = []
    for name in names:
        value = form[name].value()
        selected = {str(item) for item in value} if isinstance(value, list) else {str(value)}
        selects.append(
            {
                "name": name,
                "label": form.fields[name].label,
                "choices": [(str(k), v) for k, v in form.fields[name].choices if str(k)],
                "selected": selected,
            }
        )
    return selects


def lead_list(request):
    """Phones are shown in full here: the rows are the user's scope (see the
    module docstring for the decision)."""
    user = request.user
    query = _without_blanks(request.GET)
    lead_filter = LeadFilter(query, queryset=selectors.leads_for(user=user), request=request)
    paginator = Paginator(lead_filter.qs, PAGE_SIZE)
    page = paginator.get_page(query.get("page"))
    base_query = query.copy()
    base_query.pop("page", None)
    context = {
        "filter": lead_filter,
        "selects": _filter_bar(lead_filter, user),
        "page": page,
        "page_range": paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        "ellipsis": Paginator.ELLIPSIS,
        "base_query": base_query.urlencode(),
        "filtered": bool(base_query),
        "show_unassigned": can(user, "leads.assign"),
        "now": timezone.now(),
    }
    if is_partial(request):
        response = render(request, "leads/partials/lead_table.html", context)
        url = request.path + (f"?{query.urlencode()}" if query else "")
        push_url(response, url)  # the address without the blank fields
    else:
        response = render(request, "leads/list.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# ---------------------------------------------------------------- new lead


def _duplicate_message(existing: Lead, user) -> str:
    """Name the existing lead and its owner; link to it only for someone who
    may open it, and otherwise reveal nothing but the masked number."""
    owner = existing.owner.display_name if existing.owner_id else _("nobody yet")
    if Lead.objects.visible_to(user).filter(pk=existing.pk).exists():
        return format_html(
            '{} <a href="{}" class="alert-link" data-testid="duplicate-link">{}</a>',
            _(
                "This customer (%(phone)s) already has an open lead #%(id)s, "
                "owned by %(owner)s. Nothing was created."
            )
            % {"phone": existing.phone_display, "id": existing.pk, "owner": owner},
            _detail_url(existing),
            _("Open lead #%(id)s") % {"id": existing.pk},
        )
    return _(
        "The number %(phone)s already has an open lead #%(id)s, owned by %(owner)s. "
        "Nothing was created; ask your manager if the customer should be yours."
    ) % {"phone": phones.masked(existing.phone), "id": existing.pk, "owner": owner}


# Fields carried over by "save and add another": staff entering a batch of
# leads from one portal keep its source, channel and model.
CARRY_OVER = ("source", "channel", "intended_model", "level")


@capability_required("leads.create")
def lead_new(request):
    user = request.user
    if request.method == "POST":
        form = LeadCreateForm(request.POST, user=user)
        if form.is_valid():
            try:
                lead = services.lead_create(actor=user, **form.service_kwargs())
            except DuplicateLead as exc:
                form.add_error(None, _duplicate_message(exc.existing, user))
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("Lead #%(id)s for %(name)s saved.")
                    % {"id": lead.pk, "name": lead.customer.name},
                )
                if "add_another" in request.POST:
                    carry = QueryDict(mutable=True)
                    for name in CARRY_OVER:
                        if request.POST.get(name):
                            carry[name] = request.POST[name]
                    return redirect(f"{reverse('leads:new')}?{carry.urlencode()}")
                return redirect(_detail_url(lead))
    else:
        initial = {name: request.GET[name] for name in CARRY_OVER if request.GET.get(name)}
        form = LeadCreateForm(initial=initial, user=user)
    return render(
        request,
        "leads/new.html",
        {"form": form, "low_intent": Source.LOW_INTENT},
    )


# ---------------------------------------------------------------- detail: actions


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


def _defeat_done(lead: Lead) -> str:
    if lead.status == Status.DEFEAT_PENDING:
        return _("Defeat request sent to the manager for approval.")
    return _("Lead marked as defeated.")


def _followup_done(followup) -> str:
    from followups.views import logged_message

    return logged_message(followup)


ACTIONS: dict[str, Action] = {
    "followup": Action(
        FollowupForm,
        lambda actor, lead, data: followup_services.followup_log(
            actor=actor, lead=lead, **FollowupForm.kwargs_from(data)
        ),
        _followup_done,
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
            receiver=data["receiver"],
            note=data["note"],
        ),
        lambda appointment: _("Store visit booked; the SMS are on their way."),
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
    "defeat": Action(
        DefeatForm,
        lambda actor, lead, data: services.lead_defeat(
            actor=actor, lead=lead, reason=data["reason"], note=data["note"]
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
        capability="leads.assign",
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
    (a refused action comes back as a message)."""
    shown = ["edit"]
    if lead.is_open:
        shown[:0] = ["level"]
        if lead.status != Status.DEFEAT_PENDING:
            shown[:0] = ["followup", "book", "visit"]
        if lead.status != Status.DEFEAT_PENDING:
            shown += ["defeat", "invalidate"]
    if lead.is_open or lead.status == Status.DELIVERED:
        shown.append("deal")
    if can(user, "leads.assign"):
        if lead.is_open and lead.status != Status.DEFEAT_PENDING:
            shown.append("assign")
        if lead.status == Status.DEFEAT_PENDING:
            shown += ["approve-defeat", "reject-defeat"]
        if lead.status in (Status.DEFEATED, Status.INVALID):
            shown.insert(0, "activate")
    if can(user, "leads.merge_customers"):
        shown.append("merge")
    return shown


def _detail_lead(user, pk) -> Lead:
    queryset = Lead.objects.select_related(
        "customer",
        "owner",
        "channel",
        "intended_model",
        "store",
        "defeat_reason",
        "handover_consultant",
        "defeat_requested_by",
        "created_by",
    )
    return get_visible_or_404(queryset, user, pk=pk)


def _detail_context(request, lead: Lead, *, bound=None, active: str | None = None) -> dict:
    user = request.user
    slugs = _actions_for(lead, user)
    forms = {slug: ACTIONS[slug].form(lead=lead, user=user) for slug in slugs}
    if bound is not None and active in forms:
        forms[active] = bound
        first_error = next((name for name in bound.errors if name in bound.fields), None)
        if first_error:
            bound.fields[first_error].widget.attrs["autofocus"] = True
    if active not in forms:
        active = slugs[0] if slugs else None
    return {
        "lead": lead,
        "region": phones.region(lead.phone),
        "deals": list(lead.deals.select_related("vehicle_model", "agent").order_by("created_at")),
        "other_leads": list(
            selectors.customer_leads(user=user, customer=lead.customer).exclude(pk=lead.pk)
        ),
        "actions": [{"slug": slug, "form": forms[slug], "spec": ACTIONS[slug]} for slug in slugs],
        "appointments": _appointments_of(lead, user),
        "active_action": active,
        "now": timezone.now(),
        "partial": is_partial(request),
    }


def _appointments_of(lead: Lead, user) -> list:
    """The lead's store visits, newest first, each pending one with the forms
    of its actions (confirm, arrive, no-show, reschedule, cancel)."""
    from followups.views import appointment_actions

    appointments = list(
        lead.appointments.select_related("receiver", "agent").order_by("-scheduled_at")
    )
    for appointment in appointments:
        if appointment.status in ("booked", "confirmed"):
            appointment.forms = appointment_actions(appointment, user)
    return appointments


def render_lead_panel(request, pk):
    """The lead's card, actions and timeline as an htmx fragment (after an
    action taken elsewhere on the page, e.g. on one of its appointments)."""
    lead = _detail_lead(request.user, pk)
    return render(request, "leads/partials/lead_panel.html", _detail_context(request, lead))


def lead_detail(request, pk):
    lead = _detail_lead(request.user, pk)
    template = "leads/partials/lead_panel.html" if is_partial(request) else "leads/detail.html"
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
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
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
    if failed is None and not is_partial(request):
        return redirect(_detail_url(lead))
    lead = _detail_lead(request.user, pk)
    context = _detail_context(request, lead, bound=failed, active=action)
    template = "leads/partials/lead_panel.html" if is_partial(request) else "leads/detail.html"
    return render(request, template, context)
