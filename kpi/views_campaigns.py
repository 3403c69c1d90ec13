"""The campaign funnel pages (issue 18, point 7): the campaigns, one
campaign's funnel (all and per caller) where every number links to its
members, and the funnel as an Excel workbook (openpyxl write-only).

Who: ``campaigns.funnel.view`` (supervisor: the team's campaigns, manager:
the store's, administrator); a campaign outside the user's scope is 404.
Each download is logged (``dcc.audit.record_access``)."""

from __future__ import annotations

import io
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from openpyxl import Workbook

from dcc import audit, xlsx
from dcc.policy import capability_required, get_visible_or_404
from kpi import campaigns as funnels
from kpi.export import zh

PAGE_SIZE = 50


def _campaign(request, pk: int):
    return get_visible_or_404(
        funnels.campaigns_for(request.user).select_related("store", "team"), request.user, pk=pk
    )


def _steps(counts: dict) -> list[dict]:
    total = counts.get("members") or 0
    return [
        {
            "key": step.key,
            "label": step.label,
            "count": counts.get(step.key) or 0,
            "rate": funnels.rate(counts.get(step.key) or 0, total),
        }
        for step in funnels.STEPS
    ]


@capability_required("campaigns.funnel.view")
def campaign_list(request):
    rows = funnels.dashboard_figures(user=request.user, limit=100)
    return render(request, "kpi/campaigns.html", {"rows": rows})


@capability_required("campaigns.funnel.view")
def campaign_funnel(request, pk: int):
    campaign = _campaign(request, pk)
    callers = funnels.funnel_by_caller(campaign, user=request.user)
    return render(
        request,
        "kpi/campaign_funnel.html",
        {
            "campaign": campaign,
            "steps": _steps(funnels.funnel(campaign, user=request.user)),
            "step_meta": funnels.STEPS,
            "callers": [
                {
                    "name": row["name"],
                    "caller": row["caller"] or 0,
                    "cells": [(step.key, row[step.key]) for step in funnels.STEPS],
                }
                for row in callers
            ],
        },
    )


def _caller_param(request) -> int | None:
    value = request.GET.get("caller")
    if value in (None, ""):
        return None
    if not value.isdigit():
        raise Http404("bad caller")
    return int(value)


@capability_required("campaigns.funnel.view")
def campaign_members(request, pk: int):
    """The members behind one number of the funnel."""
    campaign = _campaign(request, pk)
    step = request.GET.get("step", "members")
    try:
        rows = funnels.drill(campaign, user=request.user, step=step, caller=_caller_param(request))
    except KeyError:
        raise Http404("unknown step") from None
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    label = next(s.label for s in funnels.STEPS if s.key == step)
    audit.record_access(
        "campaigns.members",
        actor=request.user,
        store=campaign.store,
        query={"campaign": campaign.pk, "step": step},
        lead_ids=[member.lead_id for member in page if member.lead_id],
        count=page.paginator.count,
    )
    return render(
        request,
        "kpi/campaign_members.html",
        {
            "campaign": campaign,
            "page": page,
            "step": step,
            "label": label,
            "query": urlencode(
                {key: request.GET[key] for key in ("step", "caller") if request.GET.get(key)}
            ),
        },
    )


@capability_required("campaigns.funnel.view")
def campaign_export(request, pk: int):
    """The funnel, per caller, as an Excel workbook (write-only)."""
    campaign = _campaign(request, pk)
    counts = funnels.funnel(campaign, user=request.user)
    callers = funnels.funnel_by_caller(campaign, user=request.user)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(zh(_("Funnel")))
    sheet.append([xlsx.cell(sheet, campaign.name)])
    sheet.append([xlsx.cell(sheet, zh(step.label)) for step in funnels.STEPS])
    sheet.append([counts[step.key] for step in funnels.STEPS])
    by_caller = workbook.create_sheet(zh(_("By caller")))
    by_caller.append(
        [xlsx.cell(by_caller, zh(_("Caller")))]
        + [xlsx.cell(by_caller, zh(step.label)) for step in funnels.STEPS]
    )
    for row in callers:
        by_caller.append(
            [xlsx.cell(by_caller, row["name"])] + [row[step.key] for step in funnels.STEPS]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    audit.record_access(
        "campaigns.funnel_export",
        actor=request.user,
        store=campaign.store,
        query={"campaign": campaign.pk},
        count=counts["members"],
    )
    name = f"DCC-campaign-{campaign.pk}-{timezone.localdate():%Y%m%d}.xlsx"
    response = HttpResponse(
        buffer.getvalue(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response


campaign_urlpatterns = [
    path("campaigns/", campaign_list, name="campaigns"),
    path("campaigns/<int:pk>/", campaign_funnel, name="campaign-funnel"),
    path("campaigns/<int:pk>/members/", campaign_members, name="campaign-members"),
    path("campaigns/<int:pk>/export/", campaign_export, name="campaign-export"),
]
