"""The supervisor's and manager's dashboards and the DCC room's wall-board
(issue 6 item 4): figures for one scope and month, by SQL aggregates only.

Every count here is the ``count()`` of a queryset that the drill-down lists
(``drill_rows`` for the breakdowns below, ``kpi.metrics.drilldown`` for the
KPIs), so a number and its rows cannot disagree.

- ``headline``: the main KPIs of the month beside last month (环比) and the
  same month a year earlier (同比): ``kpi.metrics.compute`` for three periods
  of one scope. A change is given in points (or units, for counts) and in
  per cent of the earlier value; None when either value is None or, for the
  per cent, when the earlier value is 0.
- ``trend``: twelve months of follow-up rate, invitation-to-store rate,
  deals and 30-day conversion in one grouped query per base table (months by
  ``TruncMonth`` in the local time zone); the carried-over leads, whose
  condition depends on each month's start, are twelve filtered counts of one
  query. Each month equals ``compute`` for that month (a test keeps it so).
- ``compare``: the same figures per agent, team or store, one query per base
  table grouped by the path ``kpi.metrics`` uses for that kind of scope, so
  each row equals ``compute`` for that agent, team or store. Agents are the
  scope's active telesales staff (``RANKED_ROLES``: agents, callers and
  supervisors; never showroom consultants); a person who left, or a
  consultant, keeps their figures in the team and store rows only.
- ``sources``: leads received, customer calls and deals per source of the
  lead (every source a row: manufacturer, web, low-intent, repurchase,
  inbound, walk-in) and, under web (and any source whose leads name one),
  per channel; calls of no lead are a row. Each count has its 环比 and 同比
  over the same days (``compared_periods``). ``vehicle_models``: the share
  of each vehicle model among leads received (intended model) and deals
  (model sold).
- Month so far (``compared_periods``): the current month is compared day
  for day: its days up to today against the same days of last month and of
  the month a year before, never against whole months.
- ``breaches``: SLA breaches whose deadline fell in the month, by kind and by
  the owner at the time; ``first_contact``: the month's leads received by
  how long their first contact took (the thresholds of
  ``followups.selectors.FIRST_CONTACT_WITHIN``), beside that selector's
  per-owner medians.
- ``defeats`` (战败分析, seed 001): leads defeated in the month (status
  defeated, ``defeated_at`` in the month: the time the defeat took effect,
  i.e. its approval where the store requires one) by reason, source,
  channel, intended model and owner, from one grouped query. A lead
  re-activated since has no defeat any more and is not counted.
- ``wallboard``: today's calls, new leads not yet called, overdue follow-ups
  (planned before today, as the queue reads it), open breaches, the month's
  deals against the target and the top agents.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import reduce

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dcc.models import Store, Team, User
from dcc.timeutils import local_day_start
from followups.models import BreachKind, SlaBreach
from followups.selectors import FIRST_CONTACT_WITHIN
from kpi import grouped, monthly
from kpi.metrics import KPIS, Metric, Period, Scope, percent
from kpi.metrics.base import TARGET_PATHS
from kpi.metrics.figures import compute_counts, figures_from, metrics_from
from kpi.metrics.rows import (
    between,
    carried_over_q,
    converted_q,
    customer_calls,
    deals,
    first_call_q,
    first_invited_q,
    followups,
    leads,
    received_q,
    visits,
)
from kpi.models import Target
from kpi.selectors import RANKED_ROLES
from leads import pool as lead_pool
from leads.models import (
    OPEN_STATUSES,
    Channel,
    DefeatReason,
    Lead,
    LeadRules,
    PoolEvent,
    Source,
    Status,
    VehicleModel,
)
from telephony.models import Direction, answered_q

HEADLINE = (
    "new_leads",
    "followup_rate",
    "invite_to_store_rate",
    "deals",
    "sales_completion",
    "conversion_30d",
    "sla_48h_compliance",
    "calls_inbound",
    "calls_outbound",
)
# The base tables the headline reads for a period that is not stored.
HEADLINE_TABLES = grouped.tables_for(HEADLINE)
TREND = ("followup_rate", "invite_to_store_rate", "deals", "conversion_30d")
COMPARED = (
    "new_leads",
    "followup_rate",
    "invite_to_store_rate",
    "deals",
    "sales_completion",
    "conversion_30d",
    "sla_48h_compliance",
    "calls_inbound",
    "calls_outbound",
)
# Which comparisons each kind of scope shows.
COMPARISONS = {"agent": (), "team": ("agent",), "store": ("agent", "team"), "group": ("store",)}
# A breach reaches an agent by the owner it was flagged against.
BREACH_PATHS = {"agent": "owner", "team": "owner__team", "store": "store"}
TREND_MONTHS = 12
NONE = "none"  # a filter value: the field is empty (no channel, no owner…)


# ---------------------------------------------------------------- months


def previous_month(period: Period) -> Period:
    return Period.month(period.start.year, period.start.month).previous()


def same_month_last_year(period: Period) -> Period:
    return Period.month(period.start.year - 1, period.start.month)


def same_days(period: Period, month: Period) -> Period:
    """The days of ``month`` matching ``period``'s: its first ``n`` days
    when ``period`` is the first ``n`` days of its month (cut at the month's
    end: 1–31 March against 1–28 February)."""
    days = (period.end - period.start).days
    end = min(month.start + timedelta(days=days), month.end)
    return Period(month.start, end)


def so_far(period: Period, today: date | None = None) -> Period:
    """The month shown, up to today when it is the current month: a month
    under way is compared day for day, never with whole earlier months."""
    today = today or timezone.localdate()
    if period.is_month and period.start <= today < period.end:
        return Period(period.start, today)
    return period


def compared_periods(period: Period, today: date | None = None) -> tuple[Period, Period, Period]:
    """(this period, the same days of last month, the same days a year
    before): whole months for a month that is over, the month so far
    against as many days of the earlier months for the current one."""
    current = so_far(period, today)
    month = Period.month(period.start.year, period.start.month)
    if current == month:
        return current, previous_month(month), same_month_last_year(month)
    return (
        current,
        same_days(current, previous_month(month)),
        same_days(current, same_month_last_year(month)),
    )


def months_back(period: Period, count: int) -> list[Period]:
    """``count`` months ending with the period's month, oldest first."""
    months = [Period.month(period.start.year, period.start.month)]
    while len(months) < count:
        months.insert(0, previous_month(months[0]))
    return months


def _month_key(value) -> date:
    """A ``TruncMonth`` value as the first day of its local month."""
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.date().replace(day=1)
    return value.replace(day=1)


def _by_month(queryset, field: str, **counts) -> dict[date, dict]:
    rows = (
        queryset.annotate(month=TruncMonth(field, tzinfo=timezone.get_default_timezone()))
        .values("month")
        .annotate(**counts)
        .order_by()
    )
    return {_month_key(row.pop("month")): row for row in rows}


# ---------------------------------------------------------------- headline


@dataclass(frozen=True)
class Change:
    """How a figure moved against an earlier one: in points (or units) and in %."""

    points: Decimal | int | None
    percent: Decimal | None

    @classmethod
    def between(cls, current: Metric, earlier: Metric) -> Change:
        if current.value is None or earlier.value is None:
            return cls(None, None)
        points = current.value - earlier.value
        return cls(points, percent(points, earlier.value))


def headline(scope: Scope, period: Period, *, today: date | None = None) -> list[dict]:
    """The main KPIs of the month with 环比 (last month) and 同比 (a year
    before); the current month's days so far against the same days of those
    months (``compared_periods``)."""
    _now, before, year_before = compared_periods(period, today)
    # Figures of the current month cover the whole month (a target is the
    # month's); the earlier periods only its days so far.
    # Closed months come from their stored figures (kpi.monthly).
    # The earlier periods of a month so far are the first days of closed
    # months, stored too (kpi.monthly.first_days).
    whole = [p for p in (period, before, year_before) if p.is_month]
    counts = monthly.kpis(scope, whole, today=today, tables=HEADLINE_TABLES)

    def count(days: Period) -> dict[str, int]:
        return compute_counts(scope, days, today=today, tables=HEADLINE_TABLES)

    for days in (before, year_before):
        if not days.is_month:
            counts[days.start] = monthly.first_days(scope, days, count, today=today)
    current, last_month, last_year = (
        metrics_from(counts[p.start]) for p in (period, before, year_before)
    )
    return [
        {
            "name": name,
            "kpi": KPIS[name],
            "current": current[name],
            "last_month": last_month[name],
            "last_year": last_year[name],
            "mom": Change.between(current[name], last_month[name]),
            "yoy": Change.between(current[name], last_year[name]),
        }
        for name in HEADLINE
    ]


# ---------------------------------------------------------------- trend


def trend(
    scope: Scope, period: Period, *, months: int = TREND_MONTHS, today: date | None = None
) -> list[dict]:
    """The ``TREND`` figures of each of ``months`` months up to the period's:
    closed months from their stored counts (``kpi.monthly``), the others
    counted together."""
    periods = months_back(period, months)
    counts = monthly.months(
        scope, periods, monthly.TREND_SET, lambda todo: trend_counts(scope, todo), today=today
    )
    return [
        {
            "period": month,
            "label": month.month_label,
            "figures": {name: KPIS[name].metric(counts[month.start]) for name in TREND},
        }
        for month in periods
    ]


def trend_counts(scope: Scope, periods: list[Period]) -> dict[date, dict[str, int]]:
    """The counts of the ``TREND`` figures of each month, in one grouped
    query per base table (months by ``TruncMonth``, local time)."""
    span = Period(periods[0].start, periods[-1].end)
    first_calls = _by_month(
        followups(scope).filter(first_call_q(span)), "occurred_at", n=Count("pk")
    )
    received = _by_month(
        leads(scope).filter(received_q(span)),
        "received_at",
        received=Count("pk"),
        converted=Count("pk", filter=converted_q(span)),
    )
    # Narrowed to the leads any month counts, so that the scan can use the
    # indexes of carried_over_q instead of reading every lead of the scope.
    carried = (
        leads(scope)
        .filter(reduce(operator.or_, (carried_over_q(p) for p in periods)))
        .aggregate(
            **{f"m{i}": Count("pk", filter=carried_over_q(p)) for i, p in enumerate(periods)}
        )
    )
    invited = _by_month(visits(scope, span).filter(first_invited_q()), "arrived_at", n=Count("pk"))
    sold = _by_month(deals(scope, span), "counted_at", n=Count("pk"))
    rows = {}
    for i, month in enumerate(periods):
        lead = received.get(month.start, {"received": 0, "converted": 0})
        rows[month.start] = {
            "first_calls": first_calls.get(month.start, {}).get("n", 0),
            "carried_over": carried[f"m{i}"],
            "received": lead["received"],
            "converted": lead["converted"],
            "first_invited": invited.get(month.start, {}).get("n", 0),
            "deals": sold.get(month.start, {}).get("n", 0),
        }
    return rows


# ---------------------------------------------------------------- comparison


def compared_units(scope: Scope, by: str) -> list[tuple[Scope, str]]:
    """The agents, teams or stores of the scope, each as a scope and a label."""
    if by == "agent":
        staff = User.objects.filter(is_active=True, role__in=RANKED_ROLES)
        if scope.kind == "team":
            staff = staff.filter(team=scope.id)
        elif scope.kind == "store":
            staff = staff.filter(store=scope.id)
        elif scope.kind == "agent":
            staff = staff.filter(pk=scope.id)
        return [(Scope("agent", u.pk), u.display_name) for u in staff.order_by("name", "username")]
    if by == "team":
        teams = Team.objects.select_related("store").order_by("store__code", "name")
        if scope.kind == "store":
            teams = teams.filter(store=scope.id)
        elif scope.kind == "team":
            teams = teams.filter(pk=scope.id)
        elif scope.kind == "agent":
            return []
        label = (lambda t: f"{t.store} · {t.name}") if scope.kind == "group" else (lambda t: t.name)
        return [(Scope("team", t.pk), label(t)) for t in teams]
    if by == "store":
        stores = Store.objects.order_by("code")
        if scope.kind != "group":
            stores = stores.filter(pk__in=scope.stores().values("pk"))
        return [(Scope("store", s.pk), str(s)) for s in stores]
    raise ValueError(f"cannot compare by {by!r}")


def _grouped(queryset, path: str, **counts) -> dict:
    rows = queryset.values(path).annotate(**counts).order_by()
    return {row.pop(path): row for row in rows}


def compare(
    scope: Scope, period: Period, by: str, *, names=COMPARED, today: date | None = None
) -> list[dict]:
    """The KPIs ``names`` per agent, team or store of the scope: one grouped
    query per base table they need (``kpi.grouped``), each row equal to
    ``compute`` of that unit. The dashboard's (``COMPARED``) of a closed
    month are stored (``kpi.monthly.unit_counts``)."""
    return compare_all(scope, period, (by,), names=names, today=today)[by]


def compare_all(
    scope: Scope, period: Period, bys, *, names=COMPARED, today: date | None = None
) -> dict[str, list[dict]]:
    """``compare`` by each of ``bys`` (the store's agents and teams): the
    levels still to count are counted together, each base table grouped once
    by all their paths (``kpi.grouped.counts_by``)."""
    units = {by: compared_units(scope, by) for by in bys}
    ids = {by: [unit.id for unit, _label in units[by]] for by in bys}
    tables = grouped.tables_for(names)
    computed: dict[date, dict] = {}

    def counter(by: str):
        def count(month: Period) -> dict[int, dict[str, int]]:
            if month.start not in computed:
                computed[month.start] = grouped.counts_by(ids, month, tables=tables)
            # Counts of tables not read are zeros: only ``names`` are kept.
            counts = computed[month.start][by]
            return {pk: grouped.filled(counts[pk]) for pk in ids[by]}

        return count

    result = {}
    for by in bys:
        if names == COMPARED:
            counts = monthly.unit_counts(scope, period, by, ids[by], counter(by), today=today)
        else:
            counts = counter(by)(period)
        rows = []
        for unit, label in units[by]:
            # No meeting figure is compared (a placeholder).
            figures = figures_from(counts[unit.id], Metric.rate(0, 0))
            rows.append(
                {"scope": unit, "label": label, "figures": {name: figures[name] for name in names}}
            )
        result[by] = rows
    return result


# ---------------------------------------------------------------- drill-down sets

# The rows each breakdown counts, and the query-string filters each accepts
# (parameter → field; the value ``none`` means the field is empty).
DRILL_FILTERS = {
    "received": {
        "source": "source",
        "channel": "channel",
        "model": "intended_model",
        "bucket": None,
    },
    "calls": {"source": "lead__source", "channel": "lead__channel"},
    "deals": {"source": "lead__source", "channel": "lead__channel", "model": "vehicle_model"},
    "defeated": {
        "reason": "defeat_reason",
        "source": "source",
        "channel": "channel",
        "model": "intended_model",
        "owner": "owner",
    },
    "breaches": {"kind": "kind", "owner": "owner"},
}
# What the drill-down page lists for each set.
DRILL_KINDS = {
    "received": "leads",
    "calls": "calls",
    "deals": "deals",
    "defeated": "leads",
    "breaches": "breaches",
}
DRILL_LABELS = {
    "received": _("Leads received"),
    "calls": _("Customer calls"),
    "deals": _("Deals"),
    "defeated": _("Defeated leads"),
    "breaches": _("SLA breaches"),
}
TEXT_FILTERS = {"source": Source.values, "kind": BreachKind.values}


def defeated_q(period: Period) -> Q:
    return Q(status=Status.DEFEATED) & between("defeated_at", period)


def breach_rows(scope: Scope, period: Period):
    return SlaBreach.objects.filter(scope.q(BREACH_PATHS)).filter(between("due_at", period))


def _buckets() -> list[tuple[str, Q]]:
    """First contact after receipt, in minutes: up to each threshold of
    ``FIRST_CONTACT_WITHIN`` (exclusive of the one before), beyond the last,
    and not contacted yet."""
    buckets, low = [], None
    for label, minutes in FIRST_CONTACT_WITHIN:
        q = Q(first_contact_minutes__lte=minutes)
        if low is not None:
            q &= Q(first_contact_minutes__gt=low)
        buckets.append((f"≤ {label}", q))
        low = minutes
    buckets.append((f"> {FIRST_CONTACT_WITHIN[-1][0]}", Q(first_contact_minutes__gt=low)))
    buckets.append((str(_("not contacted")), Q(first_contact_minutes__isnull=True)))
    return buckets


def _drill_base(scope: Scope, period: Period, name: str):
    if name == "received":
        return leads(scope).filter(received_q(period))
    if name == "calls":
        return customer_calls(scope, period)
    if name == "deals":
        return deals(scope, period)
    if name == "defeated":
        return leads(scope).filter(defeated_q(period))
    if name == "breaches":
        return breach_rows(scope, period)
    raise LookupError(name)


def drill_rows(scope: Scope, period: Period, name: str, filters: dict[str, str]):
    """The rows behind one number of a breakdown. LookupError for an unknown
    set, ValueError for a filter that set does not take or a bad value."""
    if name not in DRILL_FILTERS:
        raise LookupError(name)
    queryset = _drill_base(scope, period, name)
    allowed = DRILL_FILTERS[name]
    for param, value in filters.items():
        if param not in allowed:
            raise ValueError(f"{name} has no filter {param}")
        if param == "bucket":
            buckets = _buckets()
            if not value.isdigit() or int(value) >= len(buckets):
                raise ValueError("no such bucket")
            queryset = queryset.filter(buckets[int(value)][1])
            continue
        field = allowed[param]
        if value == NONE:
            queryset = queryset.filter(**{f"{field}__isnull": True})
        elif param in TEXT_FILTERS:
            if value not in TEXT_FILTERS[param]:
                raise ValueError(f"no {param} {value}")
            queryset = queryset.filter(**{field: value})
        elif value.isdigit():
            queryset = queryset.filter(**{field: int(value)})
        else:
            raise ValueError(f"bad {param} {value!r}")
    return queryset


def _key(value) -> str:
    return NONE if value is None else str(value)


# ---------------------------------------------------------------- channels and models


def vehicle_models(scope: Scope, period: Period) -> list[dict]:
    """Leads received (intended model) and deals (model sold) per vehicle
    model, with each model's share."""
    by_model: dict = defaultdict(lambda: {"leads": 0, "deals": 0})
    lead_rows = _grouped(_drill_base(scope, period, "received"), "intended_model", n=Count("pk"))
    deal_rows = _grouped(_drill_base(scope, period, "deals"), "vehicle_model", n=Count("pk"))
    for key, row in lead_rows.items():
        by_model[key]["leads"] += row["n"]
    for key, row in deal_rows.items():
        by_model[key]["deals"] += row["n"]
    models = {m.pk: m.name for m in VehicleModel.objects.filter(pk__in=[k for k in by_model if k])}
    total_leads = sum(v["leads"] for v in by_model.values())
    total_deals = sum(v["deals"] for v in by_model.values())
    return [
        {
            "key": _key(key),
            "label": models[key] if key else _("No model"),
            **counts,
            "lead_share": percent(counts["leads"], total_leads),
            "deal_share": percent(counts["deals"], total_deals),
        }
        for key, counts in sorted(
            by_model.items(), key=lambda kv: (-kv[1]["leads"], -kv[1]["deals"], str(kv[0]))
        )
    ]


# ---------------------------------------------------------------- sources and channels

SOURCE_COUNTS = ("leads", "calls", "deals")


def _source_counts(scope: Scope, period: Period) -> dict[tuple, dict[str, int]]:
    """Leads received, customer calls and deals per (source, channel) of the
    lead; a call without a lead is (None, None)."""
    counts: dict = defaultdict(lambda: dict.fromkeys(SOURCE_COUNTS, 0))
    queries = (
        ("leads", _drill_base(scope, period, "received"), "source", "channel"),
        ("calls", _drill_base(scope, period, "calls"), "lead__source", "lead__channel"),
        ("deals", _drill_base(scope, period, "deals"), "lead__source", "lead__channel"),
    )
    for what, queryset, source, channel in queries:
        for row in queryset.values(source, channel).annotate(n=Count("pk")).order_by():
            counts[(row[source], row[channel])][what] += row["n"]
    return counts


def _stored_source_counts(
    scope: Scope, period: Period, today: date | None
) -> dict[tuple, dict[str, int]]:
    """``_source_counts``, stored for a closed month or its first days
    (``kpi.monthly.closed_period``; the same late-data events move them:
    a lead's channel corrected, calls or deals recorded late)."""

    def count(p: Period) -> dict:
        rows = _source_counts(scope, p)
        return {"rows": [[*key, *(n[what] for what in SOURCE_COUNTS)] for key, n in rows.items()]}

    stored = monthly.closed_period(scope, period, monthly.SOURCES_SET, count, today=today)
    counts: dict = defaultdict(lambda: dict.fromkeys(SOURCE_COUNTS, 0))
    for source, channel, *values in stored["rows"]:
        counts[(source, channel)] = dict(zip(SOURCE_COUNTS, values, strict=True))
    return counts


def _sum(counts: dict, keys) -> dict[str, int]:
    return {what: sum(counts[key][what] for key in keys if key in counts) for what in SOURCE_COUNTS}


def sources(scope: Scope, period: Period, *, today: date | None = None) -> dict:
    """Leads, calls and deals per source of the lead (every source its own
    row, whether or not it has a channel) and, under a source whose leads
    name channels (web leads, seed 004), per channel; each count beside the
    same days of last month (环比) and of the month a year before (同比).
    Calls of no lead are a row of their own."""
    now, before, year_before = compared_periods(period, today)
    current = _stored_source_counts(scope, period, today)
    earlier = {
        "mom": _stored_source_counts(scope, before, today),
        "yoy": _stored_source_counts(scope, year_before, today),
    }
    channel_ids = {c for _s, c in (*current, *earlier["mom"], *earlier["yoy"]) if c}
    labels = dict(
        Channel.objects.filter(Q(is_active=True) | Q(pk__in=channel_ids)).values_list("pk", "label")
    )

    def row(keys, *, key: dict, label, level: int) -> dict:
        counts = _sum(current, keys)
        cells = {}
        for what in SOURCE_COUNTS:
            value = counts[what]
            cells[what] = {"n": value}
            for name, table in earlier.items():
                was = _sum(table, keys)[what]
                cells[what][name] = Change(value - was, percent(value - was, was))
        return {"key": key, "label": label, "level": level, **counts, "cells": cells}

    every_key = set(current) | set(earlier["mom"]) | set(earlier["yoy"])
    rows = []
    for source in Source:
        keys = sorted((k for k in every_key if k[0] == source.value), key=lambda k: str(k[1]))
        rows.append(row(keys, key={"source": source.value}, label=source.label, level=0))
        channelled = [k for k in keys if k[1] is not None]
        if source == Source.WEB or channelled:
            # Every active channel of a web lead, and any channel counted.
            ids = list(labels) if source == Source.WEB else [k[1] for k in channelled]
            for channel in ids:
                rows.append(
                    row(
                        [(source.value, channel)],
                        key={"source": source.value, "channel": str(channel)},
                        label=labels.get(channel, "—"),
                        level=1,
                    )
                )
            if (source.value, None) in every_key:
                rows.append(
                    row(
                        [(source.value, None)],
                        key={"source": source.value, "channel": NONE},
                        label=_("No channel"),
                        level=1,
                    )
                )
    if (None, None) in every_key:
        rows.append(row([(None, None)], key={"source": NONE}, label=_("No lead"), level=0))
    return {
        "rows": rows,
        "periods": {"current": now, "mom": before, "yoy": year_before},
        "total": _sum(current, current),
    }


# ---------------------------------------------------------------- SLA and first contact


def _names(ids) -> dict:
    ids = [i for i in ids if i]
    return {u.pk: u.display_name for u in User.objects.filter(pk__in=ids)} if ids else {}


def breaches(scope: Scope, period: Period) -> dict:
    """Breaches whose deadline fell in the period: by kind and by owner."""
    rows = list(
        breach_rows(scope, period)
        .values("kind", "owner")
        .annotate(n=Count("pk"), open=Count("pk", filter=Q(acknowledged_at__isnull=True)))
        .order_by()
    )
    by_kind: dict = defaultdict(lambda: {"n": 0, "open": 0})
    by_owner: dict = defaultdict(lambda: {"n": 0, "open": 0})
    for row in rows:
        for table, key in ((by_kind, row["kind"]), (by_owner, row["owner"])):
            table[key]["n"] += row["n"]
            table[key]["open"] += row["open"]
    names = _names(by_owner)
    return {
        "total": sum(v["n"] for v in by_kind.values()),
        "kinds": [
            {"key": kind.value, "label": kind.label, **by_kind.get(kind.value, {"n": 0, "open": 0})}
            for kind in BreachKind
        ],
        "owners": [
            {"key": _key(key), "label": names.get(key) or _("Unassigned"), **counts}
            for key, counts in sorted(by_owner.items(), key=lambda kv: -kv[1]["n"])
        ],
    }


def first_contact(scope: Scope, period: Period) -> list[dict]:
    """The period's leads received by how long the first contact took."""
    buckets = _buckets()
    counts = _drill_base(scope, period, "received").aggregate(
        **{f"b{i}": Count("pk", filter=q) for i, (_label, q) in enumerate(buckets)}
    )
    total = sum(counts.values())
    return [
        {
            "key": str(i),
            "label": label,
            "n": counts[f"b{i}"],
            "share": percent(counts[f"b{i}"], total),
        }
        for i, (label, _q) in enumerate(buckets)
    ]


# ---------------------------------------------------------------- defeat analysis

DEFEAT_DIMENSIONS = (
    ("reason", "defeat_reason", _("Reason")),
    ("source", "source", _("Source")),
    ("channel", "channel", _("Channel")),
    ("model", "intended_model", _("Intended model")),
    ("owner", "owner", _("Agent")),
)


def defeats(scope: Scope, period: Period) -> dict:
    """战败分析: the month's defeated leads by reason, source, channel, model
    and agent, from one query grouped by all five."""
    fields = [field for _param, field, _label in DEFEAT_DIMENSIONS]
    rows = list(
        _drill_base(scope, period, "defeated").values(*fields).annotate(n=Count("pk")).order_by()
    )
    counts: dict[str, dict] = {param: defaultdict(int) for param, _f, _l in DEFEAT_DIMENSIONS}
    for row in rows:
        for param, field, _label in DEFEAT_DIMENSIONS:
            counts[param][row[field]] += row["n"]
    labels = {
        "reason": dict(
            DefeatReason.objects.filter(pk__in=[k for k in counts["reason"] if k]).values_list(
                "pk", "label"
            )
        ),
        "source": dict(Source.choices),
        "channel": dict(
            Channel.objects.filter(pk__in=[k for k in counts["channel"] if k]).values_list(
                "pk", "label"
            )
        ),
        "model": dict(
            VehicleModel.objects.filter(pk__in=[k for k in counts["model"] if k]).values_list(
                "pk", "name"
            )
        ),
        "owner": _names(counts["owner"]),
    }
    total = sum(row["n"] for row in rows)
    empty = {
        "reason": _("No reason"),
        "source": "—",
        "channel": _("No channel"),
        "model": _("No model"),
        "owner": _("Unassigned"),
    }
    tables = []
    for param, _field, label in DEFEAT_DIMENSIONS:
        tables.append(
            {
                "param": param,
                "label": label,
                "rows": [
                    {
                        "key": _key(key),
                        "label": labels[param].get(key, empty[param]) if key else empty[param],
                        "n": n,
                        "share": percent(n, total),
                    }
                    for key, n in sorted(counts[param].items(), key=lambda kv: (-kv[1], str(kv[0])))
                ],
            }
        )
    return {"total": total, "tables": tables}


# ---------------------------------------------------------------- wall-board

TOP_AGENTS = 5


# Pool moves by the staff member they concern (the new owner of a claim).
POOL_EVENT_PATHS = {"store": "store", "team": "staff__team", "agent": "staff"}


def pool(scope: Scope, *, now: datetime | None = None) -> dict:
    """The pool (公海) now: how many leads wait in the scope's stores and
    the oldest wait in hours; today's moves in the scope: claims,
    redistributions and leads pooled. Two aggregate queries."""
    now = now or timezone.now()
    return lead_pool.pool_figures(
        Lead.objects.pooled().filter(store__in=scope.stores()),
        PoolEvent.objects.filter(scope.q(POOL_EVENT_PATHS)),
        now=now,
        since=local_day_start(timezone.localdate(now)),
    )


def wallboard(scope: Scope, *, now: datetime | None = None) -> dict:
    """What the DCC room's TV shows: today, the queue, the month so far."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    today_start = local_day_start(today)
    month = Period.month(today.year, today.month)
    calls = customer_calls(scope, Period(today, today)).aggregate(
        inbound=Count("pk", filter=Q(direction=Direction.INBOUND)),
        outbound=Count("pk", filter=Q(direction=Direction.OUTBOUND)),
        missed=Count("pk", filter=Q(direction=Direction.INBOUND) & ~answered_q()),
    )
    queue = (
        leads(scope)
        .filter(status__in=OPEN_STATUSES)
        .aggregate(
            waiting=Count("pk", filter=LeadRules.not_yet_contacted()),
            overdue=Count("pk", filter=LeadRules.overdue(today_start)),
        )
    )
    open_breaches = SlaBreach.objects.filter(scope.q(BREACH_PATHS)).open().count()
    sold = deals(scope, month).count()
    target = Target.objects.filter(scope.q(TARGET_PATHS), month=month.start).aggregate(
        units=Sum("units")
    )["units"]
    agents = (
        compare(scope, month, "agent", names=("deals", "followup_rate"))
        if scope.kind != "agent"
        else []
    )
    calls_today = _grouped(customer_calls(scope, Period(today, today)), "agent", n=Count("pk"))
    top = sorted(
        agents,
        key=lambda row: (
            -row["figures"]["deals"].value,
            -(calls_today.get(row["scope"].id, {}).get("n", 0)),
            row["label"],
        ),
    )[:TOP_AGENTS]
    for row in top:
        row["calls_today"] = calls_today.get(row["scope"].id, {}).get("n", 0)
    return {
        "now": now,
        "today": today,
        "month": month,
        "calls": {**calls, "total": calls["inbound"] + calls["outbound"]},
        "waiting": queue["waiting"],
        "overdue": queue["overdue"],
        "open_breaches": open_breaches,
        "deals": sold,
        "target": target,
        "completion": Metric.rate(sold, target or 0),
        "top_agents": top,
    }
