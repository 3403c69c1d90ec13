"""The agent's call queue (their home page) and its work panel, which logs
a call: one form in, one service called, one fragment out. The work panel is
htmx: logging a call answers with the panel of the next item and the
re-ordered queue (out of band), so the agent never waits for a full page.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dcc.htmx import is_partial
from dcc.policy import get_visible_or_404
from desk.actions import appointment_actions, logged_message
from followups import selectors, services
from followups.campaigns import calls as campaign_calls
from followups.forms import FollowupForm
from followups.models import Appointment
from kpi.goals import daily_goals
from leads.forms import add_service_errors
from leads.lifecycle import LeadStateError
from leads.models import Lead, Source
from telephony import callbacks

KIND_LABELS = selectors.QUEUE_KINDS
KIND_STYLES = {
    "soon": "danger",
    "overdue": "danger",
    "new": "primary",
    "confirm": "warning",
    "retry": "info",
    "today": "secondary",
    "recontact": "success",
    "unplanned": "dark",
    "later": "light",
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
        "queue_url": reverse("desk:queue-item", args=["k"])[:-2],
    }


def queue_list(request):
    """The whole queue (every section up to its limit), for "show all"."""
    items = _labelled(selectors.queue_for_agent(agent=request.user))
    counts = {kind: sum(1 for item in items if item.kind == kind) for kind in KIND_LABELS}
    context = _list_context(items, counts, hidden=0)
    context["active_key"] = request.GET.get("active")
    return render(request, "desk/partials/queue_list.html", context)


def _find(items, key: str | None):
    return next((item for item in items if item.key == key), None)


def panel_context(request, item, *, form=None, appointment_forms=None) -> dict:
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


def queue_context(request) -> dict:
    """The agent's home page (desk.views.home): the queue, and the work panel
    of the item named in ``?item=``. Without one, the panel of the first item
    is fetched by the page right after it arrives (htmx, ``load``): the list
    is what the agent waits for, and each request stays short. The other
    sections of the desk (today's goals, missed-call callbacks, campaign
    calls) come the same way, in one request (``desk_extras``)."""
    items, counts = _queue(request)
    context = _list_context(items, counts)
    key = request.GET.get("item")
    if key:
        try:
            active = item_for(request, key, items)
        except Http404:
            messages.warning(request, _("That item is not in your queue."))
        else:
            return {**context, "active_key": active.key, **panel_context(request, active)}
    first_key = items[0].key if items else None
    return {**context, "active_key": first_key, "lazy_key": first_key, "now": timezone.now()}


def desk_extras(request):
    """The desk's sections besides the queue, fetched by the page as it
    loads (one htmx request, each section swapped into its place out of
    band): today's goals, missed-call callbacks (calls, not leads) and
    campaign members to call (members, not leads). They were half of the
    queue page's time, and the queue is what the agent waits for. Without
    htmx (the page's <noscript> link), a page of their own."""
    user = request.user
    context = {
        "my_goals": daily_goals(agents=[user])[user.pk],
        "callbacks": callbacks.for_agent(user),
        "campaign_calls": campaign_calls.for_caller(user),
    }
    template = "desk/partials/desk_extras.html" if is_partial(request) else "desk/desk_extras.html"
    return render(request, template, context)


def queue_item(request, key):
    """One queue item in the work panel (htmx), or the queue page showing it."""
    if not is_partial(request):
        return redirect(f"{reverse('desk:home')}?item={key}")
    item = item_for(request, key)
    return render(request, "desk/partials/work_panel.html", panel_context(request, item))


def item_for(request, key: str, items=None):
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


def next_panel(request, done_lead_pk: int):
    """After an item is done: the next one in the (recomputed) queue, with
    the queue list swapped out of band."""
    items, counts = _queue(request)
    upcoming = next((item for item in items if item.lead.pk != done_lead_pk), None)
    context = panel_context(request, upcoming)
    context.update(
        _list_context(items, counts),
        active_key=upcoming.key if upcoming else None,
        oob=True,
    )
    return render(request, "desk/partials/work_panel_next.html", context)


@require_POST
def queue_log(request, key):
    """Log the outcome of a queue item's call; the next item comes up."""
    item = item_for(request, key)
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
                return redirect("desk:home")
            return next_panel(request, item.lead.pk)
    if not is_partial(request):
        return redirect(f"{reverse('desk:home')}?item={key}")
    return render(request, "desk/partials/work_panel.html", panel_context(request, item, form=form))
