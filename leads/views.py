"""The lead pages: the list and the new-lead form (the lead page with its
actions is desk's, ``desk.views.lead``; the assignment page is
``leads.views_assignment``).

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

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django_htmx.http import push_url

from dcc import audit
from dcc.htmx import is_partial, without_blanks
from dcc.policy import Level as ScopeLevel
from dcc.policy import can, capability_required, scope_level
from leads import selectors, services
from leads.filters import LeadFilter
from leads.forms import LeadCreateForm, add_service_errors
from leads.messages import duplicate_message
from leads.models import Source
from leads.services import DuplicateLead

PAGE_SIZE = 25


# ---------------------------------------------------------------- list


def _filter_bar(lead_filter: LeadFilter, user) -> list[dict]:
    """The drop-downs of the filter bar, each one value or "all"."""
    form = lead_filter.form
    names = ["source", "channel", "status", "level", "rule"]
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
    query = without_blanks(request.GET)
    lead_filter = LeadFilter(query, queryset=selectors.leads_for(user=user), request=request)
    paginator = Paginator(lead_filter.qs, PAGE_SIZE)
    page = paginator.get_page(query.get("page"))
    base_query = query.copy()
    base_query.pop("page", None)
    shown = [lead.pk for lead in page.object_list]
    if len(shown) >= audit.BULK_VIEW_THRESHOLD:
        # A bulk view of customers: who saw which (dcc.audit.record_access).
        audit.record_access("leads.list", actor=user, query=audit.query_of(query), lead_ids=shown)
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
                form.add_error(None, duplicate_message(exc.existing, user))
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
                return redirect("desk:lead", pk=lead.pk)
    else:
        initial = {name: request.GET[name] for name in CARRY_OVER if request.GET.get(name)}
        form = LeadCreateForm(initial=initial, user=user)
    return render(
        request,
        "leads/new.html",
        {"form": form, "low_intent": Source.LOW_INTENT},
    )
