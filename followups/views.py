"""Follow-up pages: the agent's call queue (their home page), the work panel
that logs a call, appointment actions, the supervisor's team health and
first-contact distribution, the breach list, the flagged appointments and
the SMS outbox.

Views translate: one form in, one service called, one page or fragment out.
The queue's work panel is htmx: logging a call answers with the panel of the
next item and the re-ordered queue (out of band), so the agent never waits
for a full page.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from dcc.htmx import is_partial
from dcc.policy import can, capability_required, get_visible_or_404, require
from dcc.timeutils import local_day_start
from dcc.views import chosen_store
from followups import selectors, services, sms
from followups.forms import (
    ArriveForm,
    CancelForm,
    ConfirmForm,
    FollowupForm,
    NoShowForm,
    PolicyForm,
    RescheduleForm,
    StoreRulesForm,
)
from followups.models import (
    Appointment,
    AppointmentStatus,
    FollowupPolicy,
    SlaBreach,
    SmsMessage,
    SmsStatus,
)
from leads.forms import add_service_errors
from leads.lifecycle import LeadStateError
from leads.models import Lead, Source
from leads.views import Action

PAGE_SIZE = 50


# ---------------------------------------------------------------- the call queue

KIND_LABELS = selectors.QUEUE_KINDS
KIND_STYLES = {
    "overdue": "danger",
    "new": "primary",
    "confirm": "warning",
    "retry": "info",
    "today": "secondary",
}


# The page shows the most urgent rows; the rest come on demand ("show all").
PAGE_ROWS = 30


def _labelled(items):
    """What a row shows, worked out once in Python: template lookups and
    filters per row were most of the queue page's time."""
    labels = {kind: str(label) for kind, label in KIND_LABELS.items()}  # translate once
    sources = {value: str(label) for value, label in Source.choices}
    for item in items:
        lead = item.lead
        item.label = labels[item.kind]
        item.style = KIND_STYLES[item.kind]
        item.line = " · ".join(
            str(part)
            for part in (lead.intended_model, lead.channel, sources.get(lead.source))
            if part
        )
    return items


def _queue(request):
    """The page's rows and the size of every section."""
    items, counts = selectors.queue_page(agent=request.user, total=PAGE_ROWS)
    return _labelled(items), counts


def _list_context(items, counts: dict, *, hidden: int | None = None) -> dict:
    return {
        "items": items,
        "hidden": sum(counts.values()) - len(items) if hidden is None else hidden,
        "counts": [
            {"kind": kind, "label": label, "style": KIND_STYLES[kind], "count": counts[kind]}
            for kind, label in KIND_LABELS.items()
        ],
        # Row links are this prefix and the item's key: no URL reversing per row.
        "queue_url": reverse("followups:queue-item", args=["k"])[:-2],
    }


def queue_list(request):
    """The whole queue (every section up to its limit), for "show all"."""
    items = _labelled(selectors.queue_for_agent(agent=request.user))
    counts = {kind: sum(1 for item in items if item.kind == kind) for kind in KIND_LABELS}
    context = _list_context(items, counts, hidden=0)
    context["active_key"] = request.GET.get("active")
    return render(request, "followups/partials/queue_list.html", context)


def _find(items, key: str | None):
    return next((item for item in items if item.key == key), None)


def _panel_context(request, item, *, form=None, appointment_forms=None) -> dict:
    lead = item.lead if item else None
    context = {"item": item, "now": timezone.now()}
    if lead is None:
        return context
    context.update(
        lead=lead,
        form=form or FollowupForm(lead=lead, user=request.user),
        recent=list(lead.followups.select_related("agent").order_by("-occurred_at")[:3]),
    )
    if item.appointment is not None:
        appointment = item.appointment
        context["appointment_forms"] = appointment_forms or appointment_actions(
            appointment, request.user
        )
    return context


def appointment_actions(appointment, user, bound=None, action=None) -> list[dict]:
    """The actions a pending appointment offers, each with its form (the one
    just refused, with its errors, in place of a fresh one)."""
    actions = []
    for slug, spec in APPOINTMENT_ACTIONS.items():
        if slug == "confirm" and appointment.status != AppointmentStatus.BOOKED:
            continue
        form = bound if slug == action else spec.form(appointment=appointment, user=user)
        actions.append({"slug": slug, "form": form, "spec": spec})
    return actions


def queue_context(request) -> dict:
    """The agent's home page (dcc.views.home): the queue, and the work panel
    of the item named in ``?item=``. Without one, the panel of the first item
    is fetched by the page right after it arrives (htmx, ``load``): the list
    is what the agent waits for, and each request stays short."""
    items, counts = _queue(request)
    context = _list_context(items, counts)
    key = request.GET.get("item")
    if key:
        try:
            active = _item_for(request, key, items)
        except Http404:
            messages.warning(request, _("That item is not in your queue."))
        else:
            return {**context, "active_key": active.key, **_panel_context(request, active)}
    first_key = items[0].key if items else None
    return {**context, "active_key": first_key, "lazy_key": first_key, "now": timezone.now()}


def queue_item(request, key):
    """One queue item in the work panel (htmx), or the queue page showing it."""
    if not is_partial(request):
        return redirect(f"{reverse('home')}?item={key}")
    item = _item_for(request, key)
    return render(request, "followups/partials/work_panel.html", _panel_context(request, item))


def _item_for(request, key: str, items=None):
    """The queue item ``key`` ("<kind>-<id>") names, in the user's scope; it
    may have left the queue meanwhile (a colleague or the sweep moved it)."""
    if items is not None:
        found = _find(items, key)
        if found is not None:
            return found
    kind, _sep, pk = key.partition("-")
    if kind not in KIND_LABELS or not pk.isdigit():
        raise Http404("bad queue key")
    if kind == "confirm":
        appointment = get_visible_or_404(
            Appointment.objects.select_related("lead__customer", "receiver"), request.user, pk=pk
        )
        item = selectors.QueueItem(kind, appointment.lead, appointment.scheduled_at, appointment)
    else:
        lead = get_visible_or_404(
            Lead.objects.select_related("customer", "intended_model", "channel"),
            request.user,
            pk=pk,
        )
        item = selectors.QueueItem(
            kind, lead, selectors.queue_deadline(agent=request.user, kind=kind, lead=lead)
        )
    return _labelled([item])[0]


def _next_panel(request, done_lead_pk: int):
    """After an item is done: the next one in the (recomputed) queue, with
    the queue list swapped out of band."""
    items, counts = _queue(request)
    upcoming = next((item for item in items if item.lead.pk != done_lead_pk), None)
    context = _panel_context(request, upcoming)
    context.update(
        _list_context(items, counts),
        active_key=upcoming.key if upcoming else None,
        oob=True,
    )
    return render(request, "followups/partials/work_panel_next.html", context)


@require_POST
def queue_log(request, key):
    """Log the outcome of a queue item's call; the next item comes up."""
    item = _item_for(request, key)
    form = FollowupForm(request.POST, lead=item.lead, user=request.user)
    if form.is_valid():
        try:
            followup = services.followup_log(
                actor=request.user, lead=item.lead, **form.service_kwargs()
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        except LeadStateError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, logged_message(followup))
            if not is_partial(request):
                return redirect("home")
            return _next_panel(request, item.lead.pk)
    if not is_partial(request):
        return redirect(f"{reverse('home')}?item={key}")
    return render(
        request, "followups/partials/work_panel.html", _panel_context(request, item, form=form)
    )


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


# ---------------------------------------------------------------- appointments


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

# Where an appointment action was started, and so what it answers with.
RETURN_TO = ("queue", "lead", "list")


def appointment_action(request, pk, action):
    appointment = get_visible_or_404(
        Appointment.objects.select_related("lead__customer", "store"), request.user, pk=pk
    )
    spec = APPOINTMENT_ACTIONS.get(action)
    if spec is None:
        raise Http404("unknown action")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    return_to = request.POST.get("return_to")
    return_to = return_to if return_to in RETURN_TO else "lead"
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
            return redirect("home")
        if return_to == "list":
            return redirect("followups:appointments")
        return redirect("leads:detail", pk=lead_pk)
    if return_to == "queue":
        if ok:
            return _next_panel(request, lead_pk)
        item = _item_for(request, f"confirm-{appointment.pk}")
        forms = appointment_actions(appointment, request.user, bound=form, action=action)
        return render(
            request,
            "followups/partials/work_panel.html",
            _panel_context(request, item, appointment_forms=forms),
        )
    if return_to == "list":
        return appointments(request)
    from leads.views import render_lead_panel

    return render_lead_panel(request, lead_pk)


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
        "followups/partials/appointment_table.html"
        if is_partial(request)
        else "followups/appointments.html"
    )
    return render(request, template, context)


# ---------------------------------------------------------------- supervisor


def team_context(request) -> dict:
    """Supervisor's and manager's home: team queue health and escalations
    (the open-breach count is the layout's badge, ``badges.open_breaches``)."""
    user = request.user
    return {
        "health": selectors.team_health(user=user),
        "escalated": list(selectors.escalated_for_supervisor(supervisor=user, limit=50)),
        "flagged_count": selectors.flagged_appointments(user=user).count(),
    }


def _period(request):
    """[start, end) from ?start=&end= (dates, end inclusive); default the
    last 30 days."""
    today = timezone.localdate()
    end_day = parse_date(request.GET.get("end") or "") or today
    start_day = parse_date(request.GET.get("start") or "") or end_day - timedelta(days=29)
    if start_day > end_day:
        start_day, end_day = end_day, start_day
    return start_day, end_day


@capability_required("followups.team_health.view")
def first_contact(request):
    start_day, end_day = _period(request)
    tables = selectors.first_contact_distribution(
        user=request.user,
        start=local_day_start(start_day),
        end=local_day_start(end_day + timedelta(days=1)),
    )
    return render(
        request,
        "followups/first_contact.html",
        {
            "tables": [
                (_("By agent"), tables["owner"]),
                (_("By source"), tables["source"]),
                (_("By store"), tables["store"]),
            ],
            "start": start_day,
            "end": end_day,
            "thresholds": [label for label, _m in selectors.FIRST_CONTACT_WITHIN],
        },
    )


# ---------------------------------------------------------------- breaches


@capability_required("followups.breaches.view")
def breaches(request):
    show = request.GET.get("show", "open")
    queryset = SlaBreach.objects.visible_to(request.user).select_related(
        "lead__customer", "lead__owner", "owner", "acknowledged_by"
    )
    if show != "all":
        queryset = queryset.open()
    page = Paginator(queryset.order_by("-due_at", "-pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "followups/breaches.html",
        {
            "page": page,
            "show": show,
            "can_acknowledge": can(request.user, "followups.breaches.acknowledge"),
        },
    )


@require_POST
@capability_required("followups.breaches.acknowledge")
def breach_acknowledge(request, pk):
    breach = get_visible_or_404(SlaBreach, request.user, pk=pk)
    services.breach_acknowledge(actor=request.user, breach=breach)
    if is_partial(request):
        breach = SlaBreach.objects.select_related(
            "lead__customer", "lead__owner", "owner", "acknowledged_by"
        ).get(pk=breach.pk)
        return render(
            request,
            "followups/partials/breach_row.html",
            {"breach": breach, "can_acknowledge": True},
        )
    return redirect("followups:breaches")


# ---------------------------------------------------------------- SMS outbox

SMS_FILTERS = {
    "problems": (SmsStatus.FAILED, SmsStatus.UNCERTAIN),
    "pending": (SmsStatus.PENDING, SmsStatus.SENDING),
    "sent": (SmsStatus.SENT,),
    "cancelled": (SmsStatus.CANCELLED,),
}


@capability_required("followups.sms.view")
def sms_outbox(request):
    show = request.GET.get("show", "all")
    queryset = SmsMessage.objects.visible_to(request.user).select_related("lead__customer")
    if show in SMS_FILTERS:
        queryset = queryset.filter(status__in=SMS_FILTERS[show])
    page = Paginator(queryset.order_by("-created_at", "-pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    for message in page:
        message.preview = sms.preview(message)
    problems = (
        SmsMessage.objects.visible_to(request.user)
        .filter(status__in=SMS_FILTERS["problems"])
        .count()
    )
    return render(
        request,
        "followups/sms_outbox.html",
        {
            "page": page,
            "show": show,
            "problems": problems,
            "can_retry": can(request.user, "followups.sms.retry"),
            "retryable": (SmsStatus.FAILED, SmsStatus.UNCERTAIN),
        },
    )


@require_POST
def sms_retry(request, pk):
    require(request.user, "followups.sms.retry")
    message = get_visible_or_404(SmsMessage, request.user, pk=pk)
    message = sms.retry_by_hand(actor=request.user, message=message)
    if message.status == SmsStatus.PENDING:
        messages.success(request, _("The message will be sent again."))
    else:
        messages.error(request, _("Only a failed or uncertain message can be sent again."))
    return redirect(f"{reverse('followups:sms')}?show={request.POST.get('show', 'all')}")


# ---------------------------------------------------------------- store rules


@capability_required("followups.policy.manage")
def store_rules(request):
    """门店规则: the manager's settings for the store's clocks and cadence."""
    from dcc.models import Store

    store, stores = chosen_store(request)
    policy = FollowupPolicy.objects.for_store(store)
    if request.method == "POST":
        # Validation writes into the instances; the service re-reads both under lock.
        store_form = StoreRulesForm(request.POST, instance=Store.objects.get(pk=store.pk))
        policy_form = PolicyForm(request.POST, instance=policy)
        if store_form.is_valid() and policy_form.is_valid():
            try:
                services.store_rules_update(
                    actor=request.user,
                    store=store,
                    reason=request.POST.get("reason", ""),
                    **store_form.cleaned_data,
                    **policy_form.cleaned_data,
                )
            except ValidationError as exc:
                add_service_errors(policy_form, exc)
            else:
                messages.success(request, _("Store rules saved."))
                return redirect(f"{reverse('followups:settings')}?store={store.pk}")
    else:
        store_form = StoreRulesForm(instance=store)
        policy_form = PolicyForm(instance=policy)
    return render(
        request,
        "followups/store_rules.html",
        {
            "store": store,
            "stores": stores,
            "store_form": store_form,
            "policy_form": policy_form,
        },
    )
