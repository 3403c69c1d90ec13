"""The dashboards (supervisor: the team; manager: the store; administrator:
the group or a store), their drill-down lists and the DCC room's wall-board.

Figures come from ``kpi.dashboards``; each section is a chart drawn in the
browser by the vendored Chart.js (``static/kpi/dashboard.js`` reads the
series from a ``json_script`` tag) with its table beside it, and every count
in a table links to the rows it counts: the KPI drill-down
(``kpi:drill``) for KPI figures, ``kpi:dashboard-drill`` for the breakdowns.

The wall-board (管理看板) is a page for a TV: it needs a signed-in account
with ``kpi.dashboard.view`` (the TV signs in as the room's supervisor or the
manager) and re-fetches its figures every 60 s as an htmx partial, so the
page never reloads. When the session has ended, the next poll sends the
browser to the login page once (``HX-Redirect``) and, after signing in, back
to the board: the partial is never swapped for a login form, and nothing
loops.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from dcc.policy import can, capability_required, require
from kpi import campaigns, dashboards, metrics, selectors
from kpi.limits import report_page
from kpi.metrics import KPIS, PERCENT, Metric, Period, Scope
from kpi.views import PAGE_SIZE, _display, _key, _query, _scope

COMPARE_TITLES = {
    "agent": gettext_lazy("Agents"),
    # Not the store table's "Teams" (a number of teams): the teams compared.
    "team": pgettext_lazy("compared units", "Teams"),
    "store": gettext_lazy("Stores"),
}
DRILL_ROWS = {
    "leads": (("customer", "owner", "intended_model", "channel", "defeat_reason"), ("-pk",)),
    "calls": (("agent", "lead__customer", "lead__channel"), ("-started_at", "-pk")),
    "deals": (("lead__customer", "agent", "vehicle_model"), ("-counted_at", "-pk")),
    "breaches": (("lead__customer", "owner"), ("-due_at", "-pk")),
}


def _month(request) -> Period:
    text = request.GET.get("month")
    if not text:
        return Period.current_month()
    try:
        return Period.parse_month(text)
    except ValueError:
        messages.error(request, _("Enter a month as YYYY-MM."))
        return Period.current_month()


def _change(change: dashboards.Change, unit: str) -> dict:
    if change.points is None:
        points = "—"
    else:
        sign = "+" if change.points > 0 else ""
        points = f"{sign}{change.points}" + (_(" pt") if unit == PERCENT else "")
    pct = "—" if change.percent is None else f"{'+' if change.percent > 0 else ''}{change.percent}%"
    trend = "flat" if not change.points else ("up" if change.points > 0 else "down")
    return {"points": points, "percent": pct, "trend": trend}


def _number(metric: Metric):
    """A figure as a chart reads it: a float, or None for an empty base."""
    return None if metric.value is None else float(metric.value)


class _Links:
    """URLs of the rows behind each number, for one scope and month."""

    def __init__(self, scope: Scope, period: Period):
        self.scope, self.period = scope, period

    def kpi(self, name: str, part: str = "numerator", scope: Scope | None = None, period=None):
        if not metrics.has_rows(name, part):
            return None
        query = _query(scope or self.scope, period or self.period)
        return f"{reverse('kpi:drill', args=[name, part])}?{query}"

    def rows(self, name: str, **filters) -> str:
        params = {"s": _key(self.scope), "month": self.period.month_label, **filters}
        return f"{reverse('kpi:dashboard-drill', args=[name])}?{urlencode(params)}"


def _export_url(user, scope: Scope, period: Period) -> str | None:
    """The store's workbook of the month shown (``kpi.views_export``), for
    whoever may download it."""
    if not can(user, "kpi.export"):
        return None
    url = reverse("kpi:export")
    params = {"month": period.month_label}
    if scope.kind == "store":
        params["store"] = scope.id
    elif scope.kind != "group":
        store = scope.stores().values_list("pk", flat=True).first()
        if store:
            params["store"] = store
    return f"{url}?{urlencode(params)}"


def _metric_cell(metric: Metric, link: str | None = None) -> dict:
    return {"display": _display(metric), "value": metric.value, "link": link}


@capability_required("kpi.dashboard.view")
@report_page
def dashboard(request):
    scope = _scope(request)
    period = _month(request)
    links = _Links(scope, period)
    headline = [
        {
            **row,
            "display": _display(row["current"], row["name"]),
            "link": links.kpi(row["name"]),
            "last_month_display": _display(row["last_month"], row["name"]),
            "last_year_display": _display(row["last_year"], row["name"]),
            "mom_display": _change(row["mom"], row["kpi"].unit),
            "yoy_display": _change(row["yoy"], row["kpi"].unit),
        }
        for row in dashboards.headline(scope, period)
    ]
    trend = dashboards.trend(scope, period)
    for month in trend:
        month["cells"] = [
            _metric_cell(month["figures"][name], links.kpi(name, period=month["period"]))
            for name in dashboards.TREND
        ]
    comparisons = []
    compared = dashboards.compare_all(scope, period, dashboards.COMPARISONS[scope.kind])
    for by in dashboards.COMPARISONS[scope.kind]:
        rows = compared[by]
        for row in rows:
            row["cells"] = [
                _metric_cell(row["figures"][name], links.kpi(name, scope=row["scope"]))
                for name in dashboards.COMPARED
            ]
        comparisons.append({"by": by, "title": COMPARE_TITLES[by], "rows": rows})
    sources = dashboards.sources(scope, period)
    for row in sources["rows"]:
        for what, kind in (("leads", "received"), ("calls", "calls"), ("deals", "deals")):
            cell = row["cells"][what]
            cell["link"] = links.rows(kind, **row["key"])
            cell["mom_display"] = _change(cell["mom"], "count")
            cell["yoy_display"] = _change(cell["yoy"], "count")
    models = dashboards.vehicle_models(scope, period)
    for row in models:
        row["links"] = {kind: links.rows(kind, model=row["key"]) for kind in ("received", "deals")}
    channels = {"sources": sources, "models": models}
    breaches = dashboards.breaches(scope, period)
    for row in breaches["kinds"]:
        row["link"] = links.rows("breaches", kind=row["key"])
    for row in breaches["owners"]:
        row["link"] = links.rows("breaches", owner=row["key"])
    first_contact = dashboards.first_contact(scope, period)
    for row in first_contact:
        row["link"] = links.rows("received", bucket=row["key"])
    defeats = dashboards.defeats(scope, period)
    for table in defeats["tables"]:
        for row in table["rows"]:
            row["link"] = links.rows("defeated", **{table["param"]: row["key"]})
    context = {
        "scope": scope,
        "scope_key": _key(scope),
        "scope_label": selectors.scope_label(scope),
        "choices": [c for c in selectors.scope_choices(request.user) if c.scope.kind != "agent"],
        "period": period,
        "previous": _query(scope, period.previous()),
        "next": _query(scope, period.next()),
        "headline": headline,
        "trend": trend,
        "trend_kpis": [KPIS[name] for name in dashboards.TREND],
        "compared_kpis": [KPIS[name] for name in dashboards.COMPARED],
        "comparisons": comparisons,
        "channels": channels,
        "compared": _compared_labels(sources["periods"]),
        "breaches": breaches,
        "breaches_link": links.rows("breaches"),
        "first_contact": first_contact,
        "defeats": defeats,
        "defeats_link": links.rows("defeated"),
        "pool": dashboards.pool(scope),
        "charts": _charts(headline, trend, comparisons, channels, breaches, first_contact, defeats),
        "export_url": _export_url(request.user, scope, period),
        "wallboard_url": f"{reverse('kpi:wallboard')}?s={_key(scope)}",
        # The launched campaigns the user may see (issue 18): one grouped query.
        "campaign_rows": (
            campaigns.dashboard_figures(user=request.user)
            if can(request.user, "campaigns.funnel.view")
            else None
        ),
    }
    return render(request, "kpi/dashboard.html", context)


def _top_rows(channels) -> list[dict]:
    return [row for row in channels["sources"]["rows"] if row["level"] == 0]


def _span(period: Period) -> str:
    if period.is_month:
        return period.month_label
    return f"{period.start:%Y-%m-%d} – {period.end:%Y-%m-%d}"


def _compared_labels(periods: dict) -> dict:
    """What each column compares: a whole month, or the days so far."""
    return {key: _span(period) for key, period in periods.items()}


def _charts(headline, trend, comparisons, channels, breaches, first_contact, defeats) -> dict:
    """The series each chart draws (the tables beside them show the same)."""
    rates = [row for row in headline if row["kpi"].unit == PERCENT]
    charts = {
        "headline": {
            "type": "bar",
            "percent": True,
            "labels": [str(row["kpi"].label) for row in rates],
            "datasets": [
                {"label": str(label), "data": [_number(row[key]) for row in rates]}
                for key, label in (
                    ("current", _("This month")),
                    ("last_month", _("Last month")),
                    ("last_year", _("Same month last year")),
                )
            ],
        },
        "trend": {
            "type": "line",
            "percent": True,
            "labels": [month["label"] for month in trend],
            "datasets": [
                {
                    "label": str(KPIS[name].label),
                    "data": [_number(month["figures"][name]) for month in trend],
                    **({"type": "bar", "yAxisID": "count"} if name == "deals" else {}),
                }
                for name in dashboards.TREND
            ],
        },
        "channels": {
            "type": "bar",
            "labels": [str(row["label"]) for row in _top_rows(channels)],
            "datasets": [
                {"label": str(label), "data": [row[key] for row in _top_rows(channels)]}
                for key, label in (
                    ("leads", _("Leads received")),
                    ("calls", _("Calls")),
                    ("deals", _("Deals")),
                )
            ],
        },
        "models": {
            "type": "doughnut",
            "labels": [str(row["label"]) for row in channels["models"]],
            "datasets": [
                {"label": _("Leads received"), "data": [row["leads"] for row in channels["models"]]}
            ],
        },
        "breaches": {
            "type": "bar",
            "labels": [str(row["label"]) for row in breaches["owners"]],
            "datasets": [
                {"label": _("SLA breaches"), "data": [row["n"] for row in breaches["owners"]]}
            ],
        },
        "first_contact": {
            "type": "bar",
            "labels": [row["label"] for row in first_contact],
            "datasets": [
                {"label": _("Leads received"), "data": [row["n"] for row in first_contact]}
            ],
        },
        "defeats": {
            "type": "doughnut",
            "labels": [str(row["label"]) for row in defeats["tables"][0]["rows"]],
            "datasets": [
                {
                    "label": _("Defeated leads"),
                    "data": [row["n"] for row in defeats["tables"][0]["rows"]],
                }
            ],
        },
    }
    for comparison in comparisons:
        charts[f"compare-{comparison['by']}"] = {
            "type": "bar",
            "labels": [row["label"] for row in comparison["rows"]],
            "datasets": [
                {
                    "label": str(KPIS[name].label),
                    "data": [_number(row["figures"][name]) for row in comparison["rows"]],
                }
                for name in ("new_leads", "deals")
            ],
        }
    return charts


@capability_required("kpi.dashboard.view")
@report_page
def dashboard_drill(request, name):
    """The rows behind one number of a breakdown (channel, model, breach,
    first-contact time, defeat)."""
    scope = _scope(request)
    period = _month(request)
    filters = {
        key: value for key, value in request.GET.items() if key not in ("s", "month", "page")
    }
    try:
        queryset = dashboards.drill_rows(scope, period, name, filters)
    except (LookupError, ValueError):
        raise Http404("no such breakdown") from None
    kind = dashboards.DRILL_KINDS[name]
    related, order = DRILL_ROWS[kind]
    if kind == "leads":
        order = ("-defeated_at", "-pk") if name == "defeated" else ("-received_at", "-pk")
    # The scope check above bounds the rows; the policy bounds them again.
    visible = queryset.model.objects.visible_to(request.user).values("pk")
    queryset = queryset.filter(pk__in=visible).select_related(*related).order_by(*order)
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "name": name,
        "title": dashboards.DRILL_LABELS[name],
        "kind": kind,
        "page": page,
        "scope_label": selectors.scope_label(scope),
        "period": period,
        "back": f"{reverse('kpi:dashboard')}?{_query(scope, period)}",
        "query": urlencode({key: value for key, value in request.GET.items() if key != "page"}),
    }
    return render(request, "kpi/dashboard_drill.html", context)


@login_not_required
@report_page
def wallboard(request):
    """管理看板: the page, or (htmx, every 60 s) its figures alone."""
    if not request.user.is_authenticated:
        # Signed out while the board polls: go to the login page once and
        # come back here; never swap a login form into the board.
        if request.htmx:
            login = redirect_to_login(request.get_full_path().split("?")[0])
            response = HttpResponse(status=204)
            response["HX-Redirect"] = login["Location"]
            return response
        return redirect_to_login(request.get_full_path())
    require(request.user, "kpi.dashboard.view")
    scope = _scope(request)
    board = dashboards.wallboard(scope)
    context = {
        "board": board,
        "scope": scope,
        "scope_key": _key(scope),
        "scope_label": selectors.scope_label(scope),
        "completion": _display(board["completion"]),
        "month_query": _query(scope, board["month"]),
        "deals_link": _Links(scope, board["month"]).kpi("deals"),
        "kpis": KPIS,
        # The poll swaps in the figures alone (the same template, without the page).
        "partial": bool(request.htmx),
    }
    return render(request, "kpi/wallboard.html", context)


dashboard_urlpatterns = [
    path("dashboard/", dashboard, name="dashboard"),
    path("dashboard/rows/<slug:name>/", dashboard_drill, name="dashboard-drill"),
    path("wallboard/", wallboard, name="wallboard"),
]
