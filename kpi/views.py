"""KPI pages: the KPI table of a scope and period (every numerator and
denominator a link to the rows it counts), the drill-down lists, the
supervisor's target grid (任务分配表) and the meeting log (晨会夕会).

Views translate: the scope and the period from the query string through
``kpi.selectors`` (403/404 like the API), figures from ``kpi.metrics``,
writes through ``kpi.services``.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from dcc import audit
from dcc.models import Team, User
from dcc.policy import Level, can, capability_required, scope_level
from dcc.roles import Role
from dcc.views import chosen_store
from kpi import metrics, monthly, selectors, services
from kpi.forms import KpiSettingsForm, MeetingForm
from kpi.limits import report_page
from kpi.metrics import KPIS, Period, Scope
from kpi.metrics.figures import metrics_from
from kpi.models import KpiSettings, Meeting, MeetingKind, Target
from leads.forms import add_service_errors, local_now_input
from leads.models import Lead
from telephony.stats import hms

PAGE_SIZE = 50


# ---------------------------------------------------------------- scope and period


def _scope(request) -> Scope:
    """``?s=kind:id`` (or ``?s=group``; empty: the widest the user may read)."""
    key = request.GET.get("s", "")
    kind, _sep, id_text = key.partition(":")
    if key and (kind not in metrics.SCOPE_KINDS or (id_text and not id_text.isdigit())):
        raise Http404("unknown scope")
    return selectors.scope_for(request.user, kind or None, int(id_text) if id_text else None)


def _period(request) -> Period:
    params = request.GET
    try:
        return selectors.period_from(
            month=params.get("month"), since=params.get("since"), until=params.get("until")
        )
    except ValidationError as exc:
        for errors in exc.message_dict.values():
            for error in errors:
                messages.error(request, error)
        return Period.current_month()


def _key(scope: Scope) -> str:
    return scope.kind if scope.id is None else f"{scope.kind}:{scope.id}"


def _query(scope: Scope, period: Period) -> str:
    params = {"s": _key(scope)}
    if period.is_month:
        params["month"] = period.month_label
    else:
        params.update(since=period.start.isoformat(), until=period.end.isoformat())
    return urlencode(params)


# Figures in seconds, shown as h:mm:ss on the pages (the API and the
# workbook keep the seconds, as the figure's parts say).
DURATIONS = frozenset({"talk_seconds_per_agent_day"})


def _display(metric: metrics.Metric, name: str | None = None) -> str:
    if metric.value is None:
        return "—"
    if name in DURATIONS:
        return hms(round(metric.value))
    if metric.unit == metrics.PERCENT:
        return f"{metric.value}%"
    return str(metric.value)


# ---------------------------------------------------------------- the KPI table


@capability_required("kpi.view")
@report_page
def index(request):
    scope = _scope(request)
    period = _period(request)
    # A closed month from its stored figures (kpi.monthly), equal to compute.
    figures = metrics_from(monthly.kpis(scope, [period])[period.start])
    query = _query(scope, period)
    rows = []
    for name, kpi in KPIS.items():
        metric = figures[name]
        links = {
            part: f"{reverse('kpi:drill', args=[name, part])}?{query}"
            for part in metrics.PARTS
            if metrics.has_rows(name, part)
        }
        rows.append(
            {
                "name": name,
                "kpi": kpi,
                "metric": metric,
                "display": _display(metric, name),
                "numerator_display": (
                    hms(metric.numerator) if name in DURATIONS else metric.numerator
                ),
                "links": links,
            }
        )
    by_category = [
        {"category": category, "metric": metric, "display": _display(metric)}
        for category, metric in metrics.sales_completion_by_category(scope, period).items()
    ]
    context = {
        "scope": scope,
        "scope_key": _key(scope),
        "choices": selectors.scope_choices(request.user),
        "period": period,
        "previous": _query(scope, period.previous()),
        "next": _query(scope, period.next()),
        "rows": rows,
        "by_category": by_category,
        "can_targets": can(request.user, "kpi.targets.manage"),
        "can_meetings": can(request.user, "kpi.meetings.manage"),
        "can_settings": can(request.user, "kpi.settings.manage"),
    }
    return render(request, "kpi/index.html", context)


# ---------------------------------------------------------------- drill-down

# Per kind of row: what a row shows (joins) and its order.
ROWS = {
    "leads": (("customer", "owner", "intended_model"), ("-received_at", "-pk")),
    "followups": (("lead__customer", "agent"), ("-occurred_at", "-pk")),
    "visits": (("lead__customer", "agent"), ("-arrived_at", "-pk")),
    "calls": (("agent", "lead__customer"), ("-started_at", "-pk")),
    "deals": (("lead__customer", "agent", "vehicle_model"), ("-counted_at", "-pk")),
    "targets": (("member",), ("month", "member__name", "category")),
    "meetings": (("team", "recorded_by"), ("-held_at", "-pk")),
}


@capability_required("kpi.view")
@report_page
def drill(request, name, part):
    scope = _scope(request)
    period = _period(request)
    if (name, part) == ("meetings_on_time", "denominator"):
        return _working_days(request, scope, period)
    try:
        queryset = metrics.drilldown(scope, period, name, part)
    except LookupError:
        raise Http404("no such figure") from None
    kind = KPIS[name].rows[metrics.PARTS.index(part)]
    related, order = ROWS[kind]
    # The scope check above already bounds the rows; the policy bounds them again.
    visible = queryset.model.objects.visible_to(request.user).values("pk")
    queryset = queryset.filter(pk__in=visible).select_related(*related).order_by(*order)
    if kind == "meetings":
        queryset = queryset.annotate(attendee_count=Count("attendees"))
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    _log_lead_rows(request, page.object_list, kpi=name, part=part)
    kpi = KPIS[name]
    context = {
        "kpi": kpi,
        "name": name,
        "part": part,
        "part_label": kpi.numerator if part == "numerator" else kpi.denominator,
        "kind": kind,
        "page": page,
        "scope_label": selectors.scope_label(scope),
        "period": period,
        "query": _query(scope, period),
    }
    return render(request, "kpi/drill.html", context)


def _working_days(request, scope: Scope, period: Period):
    """The meetings figure's denominator: its working days (per team), each
    marked when both meetings were on time, as many as the figure counts."""
    rows = metrics.working_day_rows(scope, period)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    kpi = KPIS["meetings_on_time"]
    context = {
        "kpi": kpi,
        "name": "meetings_on_time",
        "part": "denominator",
        "part_label": kpi.denominator,
        "kind": "working_days",
        "page": page,
        "scope_label": selectors.scope_label(scope),
        "period": period,
        "query": _query(scope, period),
    }
    return render(request, "kpi/drill.html", context)


def _log_lead_rows(request, rows, **about) -> None:
    """A drill-down page listing at least ``BULK_VIEW_THRESHOLD`` leads (its
    rows' leads: leads, or follow-ups, visits, calls and deals of leads) is
    a bulk view of customers: logged like the lead list."""
    ids = [row.pk if isinstance(row, Lead) else getattr(row, "lead_id", None) for row in rows]
    ids = list(dict.fromkeys(pk for pk in ids if pk is not None))
    if len(ids) >= audit.BULK_VIEW_THRESHOLD:
        query = audit.query_of(request.GET) | about
        audit.record_access("kpi.drill", actor=request.user, query=query, lead_ids=ids)


# ---------------------------------------------------------------- targets and meetings


def _manageable_teams(user):
    teams = Team.objects.visible_to(user).select_related("store").order_by("store", "name")
    if scope_level(user) is Level.TEAM:
        teams = teams.filter(pk=user.team_id)
    return teams


def _team(request, teams):
    team_id = request.POST.get("team") or request.GET.get("team") or request.user.team_id
    team = next((t for t in teams if str(t.pk) == str(team_id)), None) if team_id else None
    if team_id and team is None and (request.POST.get("team") or request.GET.get("team")):
        raise Http404("team outside the user's scope")
    return team or (teams[0] if teams else None)


def _month(request) -> date:
    text = request.POST.get("month") or request.GET.get("month")
    try:
        return Period.parse_month(text).start if text else Period.current_month().start
    except ValueError:
        raise Http404("bad month") from None


@capability_required("kpi.targets.manage")
def targets(request):
    """任务分配表: units per member and model category for a month."""
    teams = list(_manageable_teams(request.user))
    team = _team(request, teams)
    month = _month(request)
    if team is None:
        raise Http404("no team")
    members = list(
        User.objects.filter(team=team, is_active=True, role__in=(Role.AGENT, Role.CALLER)).order_by(
            "name", "username"
        )
    )
    current = {
        (t.member_id, t.category): t.units
        for t in Target.objects.filter(member__team=team, month=month)
    }
    categories = sorted(set(services.target_categories()) | {c for _m, c in current})
    if request.method == "POST":
        units, errors = {}, []
        for member in members:
            for index, category in enumerate(categories):
                text = request.POST.get(f"t-{member.pk}-{index}", "").strip()
                if not text:
                    value = None
                elif text.isdigit():
                    value = int(text)
                else:
                    errors.append(
                        _("%(name)s: “%(text)s” is not a number of units.")
                        % {"name": member.display_name, "text": text}
                    )
                    continue
                if value != current.get((member.pk, category)):
                    units[(member.pk, category)] = value
        if not errors:
            try:
                counts = services.targets_set(
                    actor=request.user, team=team, month=month, units=units
                )
            except ValidationError as exc:
                errors.extend(exc.messages)
            else:
                messages.success(
                    request,
                    _("Targets saved: %(created)s new, %(changed)s changed, %(removed)s removed.")
                    % counts,
                )
                return redirect(f"{reverse('kpi:targets')}?team={team.pk}&month={month:%Y-%m}")
        for error in errors:
            messages.error(request, error)
    sold = {
        (row["agent"], row["vehicle_model__category"]): row["n"]
        for row in metrics.deals(Scope("team", team.pk), Period.month(month.year, month.month))
        .values("agent", "vehicle_model__category")
        .annotate(n=Count("pk"))
        .order_by()
    }
    grid = []
    for member in members:
        cells = [
            {
                "name": f"t-{member.pk}-{index}",
                "value": current.get((member.pk, category)),
                "sold": sold.get((member.pk, category), 0),
            }
            for index, category in enumerate(categories)
        ]
        total = sum(cell["value"] or 0 for cell in cells)
        grid.append({"member": member, "cells": cells, "total": total})
    totals = [
        sum(current.get((member.pk, category)) or 0 for member in members)
        for category in categories
    ]
    return render(
        request,
        "kpi/targets.html",
        {
            "teams": teams,
            "team": team,
            "month": month,
            "categories": categories,
            "grid": grid,
            "totals": totals,
            "grand_total": sum(totals),
        },
    )


@capability_required("kpi.meetings.manage")
def meetings(request):
    """晨会夕会: the team's meeting log for a month, and a form to add one."""
    teams = list(_manageable_teams(request.user))
    team = _team(request, teams)
    month = _month(request)
    if team is None:
        raise Http404("no team")
    now = timezone.localtime()
    if request.method == "POST":
        form = MeetingForm(request.POST, team=team)
        if form.is_valid():
            try:
                services.meeting_record(
                    actor=request.user,
                    team=team,
                    kind=form.cleaned_data["kind"],
                    held_at=form.cleaned_data["held_at"],
                    attendees=list(form.cleaned_data["attendees"]),
                    minutes=form.cleaned_data["minutes"],
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Meeting recorded."))
                held = timezone.localtime(form.cleaned_data["held_at"])
                return redirect(f"{reverse('kpi:meetings')}?team={team.pk}&month={held:%Y-%m}")
    else:
        kind = MeetingKind.MORNING if now.hour < 12 else MeetingKind.EVENING
        form = MeetingForm(team=team, initial={"kind": kind, "held_at": local_now_input()})
        # Everyone is expected: the supervisor unticks who was missing.
        form.initial["attendees"] = [m.pk for m in form.fields["attendees"].queryset]
    period = Period.month(month.year, month.month)
    log = (
        metrics.meetings(Scope("team", team.pk), period)
        .filter(pk__in=Meeting.objects.visible_to(request.user).values("pk"))
        .select_related("recorded_by")
        .prefetch_related("attendees")
        .order_by("-held_at", "-pk")
    )
    page = Paginator(log, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "kpi/meetings.html",
        {
            "teams": teams,
            "team": team,
            "month": month,
            "form": form,
            "page": page,
            "figure": metrics.meetings_on_time(Scope("team", team.pk), period),
            "query": f"team={team.pk}&month={month:%Y-%m}",
        },
    )


@capability_required("kpi.settings.manage")
def kpi_settings(request):
    """The store's KPI settings: when meetings are on time, which days are worked."""
    store, stores = chosen_store(request)
    settings = services.settings_for(store)
    if request.method == "POST":
        # Validation writes into a copy; the service re-reads the row under lock.
        form = KpiSettingsForm(request.POST, instance=KpiSettings.objects.get(pk=settings.pk))
        if form.is_valid():
            try:
                services.kpi_settings_update(actor=request.user, store=store, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("KPI settings saved."))
                return redirect(f"{reverse('kpi:settings')}?store={store.pk}")
    else:
        form = KpiSettingsForm(instance=settings)
    return render(request, "kpi/settings.html", {"stores": stores, "store": store, "form": form})
