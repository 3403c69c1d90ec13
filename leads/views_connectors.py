"""Connector pages (set up senders, show the secret once, recent pushes)
and the duplicate finder with its merge step."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dcc.policy import can, capability_required, get_visible_or_404
from leads import connectors, duplicates, services
from leads.forms import LeadConnectorForm, LeadMergeForm, add_service_errors
from leads.lifecycle import LeadStateError
from leads.models import Lead, LeadConnector

PUSHES_SHOWN = 50
PAIRS_PER_PAGE = 25
_SHOWN_ONCE = "lead_connector_shown_once"  # the session key


def _show_secret_once(request, connector: LeadConnector) -> None:
    request.session[_SHOWN_ONCE] = {"id": connector.pk, "secret": connector.secret}


@capability_required("leads.connectors.manage")
def connector_list(request):
    form = LeadConnectorForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            connector = connectors.connector_create(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            _show_secret_once(request, connector)
            return redirect("leads:connector", pk=connector.pk)
    rows = LeadConnector.objects.visible_to(request.user).select_related("store")
    return render(request, "leads/connectors.html", {"connectors": rows, "form": form})


@capability_required("leads.connectors.manage")
def connector_detail(request, pk):
    connector = get_visible_or_404(LeadConnector, request.user, pk=pk)
    shown = request.session.pop(_SHOWN_ONCE, None)
    secret = shown["secret"] if shown and shown.get("id") == connector.pk else None
    pushes = connector.pushes.select_related("lead")[:PUSHES_SHOWN]
    return render(
        request,
        "leads/connector_detail.html",
        {
            "connector": connector,
            "secret": secret,
            "pushes": pushes,
            "endpoint": request.build_absolute_uri(f"/api/v1/leads/inbound/{connector.code}/"),
        },
    )


@require_POST
@capability_required("leads.connectors.manage")
def connector_regenerate(request, pk):
    connector = get_visible_or_404(LeadConnector, request.user, pk=pk)
    connector = connectors.connector_regenerate_secret(actor=request.user, connector=connector)
    _show_secret_once(request, connector)
    messages.success(request, _("A new secret was issued; the old one no longer works."))
    return redirect("leads:connector", pk=connector.pk)


@capability_required("leads.duplicates.view")
def duplicate_list(request):
    number = request.GET.get("page") or 1
    try:
        number = max(1, int(number))
    except ValueError:
        number = 1
    total, pairs = duplicates.candidate_pairs(
        request.user, offset=(number - 1) * PAIRS_PER_PAGE, limit=PAIRS_PER_PAGE
    )
    paginator = Paginator(range(total), PAIRS_PER_PAGE)
    page = Page(pairs, min(number, paginator.num_pages), paginator)
    return render(
        request,
        "leads/duplicates.html",
        {"page": page, "total": total, "may_merge": can(request.user, "leads.merge")},
    )


@capability_required("leads.merge")
def lead_merge(request):
    try:
        ids = [int(request.GET.get("a", "")), int(request.GET.get("b", ""))]
    except ValueError:
        ids = []
    if len(ids) != 2:
        return redirect("leads:duplicates")
    a, b = (get_visible_or_404(Lead, request.user, pk=pk) for pk in ids)
    keep, merge = services.merge_survivor(a, b)
    needs_decision = services.merge_needs_decision(keep, merge)
    owners = [lead.owner for lead in (keep, merge) if lead.owner_id]
    form = LeadMergeForm(request.POST or None, owners=owners)
    if request.method == "POST" and form.is_valid():
        try:
            services.lead_merge(
                actor=request.user,
                keep=keep,
                merge=merge,
                owner=form.cleaned_data["owner"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        except LeadStateError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                _("Lead #%(merge)s was merged into #%(keep)s.")
                % {"merge": merge.pk, "keep": keep.pk},
            )
            return redirect("leads:duplicates")
    return render(
        request,
        "leads/merge.html",
        {
            "keep": keep,
            "merge": merge,
            "form": form,
            "needs_decision": needs_decision,
            "default_owner": services.merge_default_owner(keep, merge),
        },
    )
