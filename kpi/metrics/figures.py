"""``compute``: every KPI of a scope and period in a dozen grouped queries."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import BooleanField, Count, ExpressionWrapper, F, Q, Sum, Value, Window
from django.db.models.functions import ExtractIsoWeekDay, RowNumber, TruncDate
from django.utils import timezone

from dcc.models import Team
from followups.models import Appointment
from kpi.metrics.base import (
    MEETING_PATHS,
    STAFF_PATHS,
    TEAM_PATHS,
    VISIT_LEAD_PATHS,
    VISIT_PATHS,
    Metric,
    Period,
    Scope,
)
from kpi.metrics.rows import (
    arrived_q,
    between,
    carded_q,
    carried_over_q,
    customer_calls,
    deals,
    first_call_q,
    first_time_caller_q,
    followups,
    leads,
    received_q,
    sla_due_q,
    targets,
)
from kpi.metrics.table import COUNTS, KPIS, counted_with
from kpi.models import DEFAULT_WORKING_WEEKDAYS, KpiSettings, Meeting, MeetingKind
from telephony.models import Call

# ---------------------------------------------------------------- compute


def compute(scope: Scope, period: Period, *, today: date | None = None) -> dict[str, Metric]:
    """Every KPI of ``KPIS`` for the scope and period, in ``KPIS`` order."""
    return metrics_from(compute_counts(scope, period, today=today))


def compute_counts(
    scope: Scope,
    period: Period,
    *,
    today: date | None = None,
    tables: tuple[str, ...] | None = None,
) -> dict[str, int]:
    """The named counts every KPI of ``KPIS`` is made of (``metrics_from``),
    meetings included: what ``kpi.monthly`` stores for a closed month.
    ``tables`` (``kpi.grouped.tables_for``) reads only those base tables
    (``meetings`` among them for the meetings figure); the counts of the
    others are 0, so only the KPIs of those tables are right (a page showing
    some KPIs of a period that is never stored)."""
    today = today or timezone.localdate()

    def wanted(table: str) -> bool:
        return tables is None or table in tables

    counts: dict[str, int] = {} if tables is None else dict.fromkeys(COUNTS, 0)
    if wanted("leads"):
        counts.update(_lead_figures(scope, period))
    if wanted("first_calls"):
        counts["first_calls"] = followups(scope).filter(first_call_q(period)).count()
    if wanted("visits") or wanted("invitations"):
        counts.update(_visit_figures(scope, period))
    if wanted("deals"):
        counts["deals"] = _deal_figures(scope, period)[0]
    if wanted("targets"):
        counts["target_units"] = sum(_target_figures(scope, period).values())
    if wanted("callers"):
        counts.update(_card_figures(scope, period))
    if wanted("calls"):
        counts.update(_call_figures(scope, period))
    if not wanted("meetings"):
        return counts
    return with_meetings(counts, meetings_on_time(scope, period, today=today))


def with_meetings(counts: dict[str, int], meetings: Metric) -> dict[str, int]:
    return {**counts, "on_time_days": meetings.numerator, "working_days": meetings.denominator}


def metrics_from(counts: dict[str, int]) -> dict[str, Metric]:
    """Every KPI of ``KPIS``, in its order, from its named counts."""
    return {name: kpi.metric(counts) for name, kpi in KPIS.items()}


def figures_from(counts: dict[str, int], meetings: Metric) -> dict[str, Metric]:
    """Every KPI of ``KPIS``, in its order, from the counts the queries
    answer (``compute`` for one scope, ``kpi.grouped`` for every agent and
    team at once) and the meetings figure (its own queries)."""
    return metrics_from(with_meetings(counts, meetings))


# The counts as aggregates: ``compute`` aggregates them over one scope,
# ``kpi.grouped`` annotates them per agent or team (GROUP BY), so both count
# by the one definition.


def lead_counted_q(period: Period) -> Q:
    """The leads any lead figure may count (narrows the scan)."""
    return received_q(period) | carried_over_q(period) | sla_due_q(period)


def lead_counts(period: Period) -> dict:
    """The registry's lead counts (``COUNTS``), for the lead's owner."""
    return {c.name: c.aggregate(period) for c in counted_with("leads")}


def visit_counts_for_agent(period: Period, where: Q | None = None) -> dict:
    """Per arrived visit, for the owner at the visit (``VISIT_PATHS``)."""
    return {c.name: c.aggregate(period, where) for c in counted_with("visits")}


def invitation_counts(period: Period, where: Q | None = None) -> dict:
    """Per arrived visit, for the agent who booked it (``STAFF_PATHS``)."""
    return {c.name: c.aggregate(period, where) for c in counted_with("invitations")}


def visit_counts_for_owner(where: Q | None = None) -> dict:
    """Per lead, for the lead's owner."""
    where = where or Q()
    return {
        "first_visits": Count("lead", distinct=True, filter=where & Q(visit_number=1)),
        "second_visits": Count("lead", distinct=True, filter=where & Q(visit_number=2)),
    }


def caller_counts(
    scope: Scope, period: Period, per: dict[str, str | None], *, where: Q | None = None
) -> dict[str, dict[object, dict[str, int]]]:
    """First-time callers and those of them carded (``callers``, ``carded``)
    per unit of each level of ``per`` (a name → the call's path to its unit,
    e.g. ``agent``, ``agent__team``, ``store``; None: the whole scope, as
    unit 0), in one query for every level: the scope's candidate calls
    (``where`` narrows them; it must keep every call of the units wanted),
    one window per level numbering each number's calls within its unit by
    time, the first of each counted. The same calls as ``first_time_callers``
    (its NOT EXISTS per call re-checked each earlier call: seconds for a
    year), which the drill-down lists."""
    calls = (
        Call.objects.filter(scope.q(STAFF_PATHS))
        .filter(between("started_at", period))
        .filter(first_time_caller_q())
    )
    if where is not None:
        calls = calls.filter(where)
    order_by = [F("started_at").asc(), F("pk").asc()]
    columns = {"carded": ExpressionWrapper(carded_q(period), output_field=BooleanField())}
    for i, path in enumerate(per.values()):
        partition = [F("store"), F("external_number")]
        if path and path != "store":  # numbers are counted per store already
            partition.append(F(path))
        columns[f"unit_{i}"] = F(path) if path else Value(0)
        columns[f"first_{i}"] = Window(RowNumber(), partition_by=partition, order_by=order_by)
    counts: dict[str, dict[object, dict[str, int]]] = {name: {} for name in per}
    try:
        sql, params = calls.annotate(**columns).values(*columns).order_by().query.sql_with_params()
    except EmptyResultSet:  # a condition no call can meet
        return counts
    quote = connection.ops.quote_name
    units = [quote(f"unit_{i}") for i in range(len(per))]
    firsts = [f"{quote(f'first_{i}')} = 1" for i in range(len(per))]
    selected = [*units, *(f"CASE WHEN {first} THEN 1 ELSE 0 END" for first in firsts)]
    selected.append(f"CASE WHEN {quote('carded')} THEN 1 ELSE 0 END")
    positions = ", ".join(str(n + 1) for n in range(len(selected)))
    # Built from quoted aliases and the ORM's own SQL; values are parameters.
    query = (
        f"SELECT {', '.join(selected)}, COUNT(*) FROM ({sql}) calls"  # noqa: S608
        f" WHERE {' OR '.join(firsts)} GROUP BY {positions}"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        for row in cursor.fetchall():
            levels = len(per)
            carded, n = row[-2], row[-1]
            for i, name in enumerate(per):
                if row[levels + i]:
                    unit = counts[name].setdefault(row[i], {"callers": 0, "carded": 0})
                    unit["callers"] += n
                    unit["carded"] += n if carded else 0
    return counts


def call_counts(period: Period) -> dict:
    """The registry's call counts, for the agent on the call."""
    return {c.name: c.aggregate(period) for c in counted_with("calls")}


def _lead_figures(scope: Scope, period: Period) -> dict[str, int]:
    """One pass over the scope's leads that any lead figure may count."""
    return leads(scope).filter(lead_counted_q(period)).aggregate(**lead_counts(period))


def _visit_figures(scope: Scope, period: Period) -> dict[str, int]:
    """One pass over the period's arrived visits: per visit for the owner at
    the visit, the invitation for who booked it, per lead for its owner."""
    by_host, by_booker = scope.q(VISIT_PATHS), scope.q(STAFF_PATHS)
    by_owner = scope.q(VISIT_LEAD_PATHS)
    return (
        Appointment.objects.filter(arrived_q(period))
        .filter(by_host | by_booker | by_owner)
        .aggregate(
            **visit_counts_for_agent(period, by_host),
            **invitation_counts(period, by_booker),
            **visit_counts_for_owner(by_owner),
        )
    )


def _deal_figures(scope: Scope, period: Period) -> tuple[int, dict[str, int]]:
    rows = deals(scope, period).values("vehicle_model__category").annotate(n=Count("pk")).order_by()
    by_category = {row["vehicle_model__category"]: row["n"] for row in rows}
    return sum(by_category.values()), by_category


def _target_figures(scope: Scope, period: Period) -> dict[str, int]:
    rows = targets(scope, period).values("category").annotate(units=Sum("units")).order_by()
    return {row["category"]: row["units"] for row in rows}


def _card_figures(scope: Scope, period: Period) -> dict[str, int]:
    counts = caller_counts(scope, period, {"scope": None})["scope"]
    return counts.get(0, {"callers": 0, "carded": 0})


def _call_figures(scope: Scope, period: Period) -> dict[str, int]:
    calls = customer_calls(scope, period)
    figures = calls.aggregate(**call_counts(period))
    figures["agent_days"] = (
        calls.filter(agent__isnull=False)
        .annotate(day=TruncDate("started_at"))
        .values("agent", "day")
        .distinct()
        .count()
    )
    return figures


def sales_completion_by_category(scope: Scope, period: Period) -> dict[str, Metric]:
    """Deals ÷ target per vehicle model category (the commission's
    prerequisite, DESIGN §3): every category with a target or a deal."""
    _total, sold = _deal_figures(scope, period)
    return completion_by_category(sold, _target_figures(scope, period))


def completion_by_category(sold: dict[str, int], planned: dict[str, int]) -> dict[str, Metric]:
    """Units sold ÷ units planned per category, every category with either."""
    return {
        category: Metric.rate(sold.get(category, 0), planned.get(category, 0))
        for category in sorted(set(sold) | set(planned))
    }


def working_days(period: Period, weekdays: frozenset[int], *, until: date) -> int:
    """Days of the period up to ``until`` whose ISO weekday is in ``weekdays``."""
    last = min(period.end, until)
    days = (last - period.start).days + 1
    return sum(
        1
        for offset in range(max(days, 0))
        if (period.start + timedelta(days=offset)).isoweekday() in weekdays
    )


def meetings_on_time(scope: Scope, period: Period, *, today: date | None = None) -> Metric:
    """Working days with both meetings held on time ÷ working days (see 10.)."""
    today = today or timezone.localdate()
    last = min(period.end, today)
    if last < period.start:
        return Metric.rate(0, 0)
    weekdays = store_weekdays(scope.stores().values_list("pk", flat=True))
    elapsed = Period(period.start, last)
    if scope.kind == "agent":
        units = dict.fromkeys(weekdays, 1)
        group_by = ["day"]
        rows = Meeting.objects.filter(scope.q(MEETING_PATHS))
    else:
        teams = Team.objects.filter(scope.q(TEAM_PATHS), members__is_active=True).distinct()
        units = dict(
            teams.values("store")
            .annotate(n=Count("pk", distinct=True))
            .values_list("store", "n")
            .order_by()
        )
        group_by = ["team", "day"]
        rows = Meeting.objects.filter(scope.q(MEETING_PATHS), team__in=teams.values("pk"))
    denominator = sum(
        working_days(elapsed, days, until=last) * units.get(store, 0)
        for store, days in weekdays.items()
    )
    numerator = on_time_days(rows, elapsed, weekdays, group_by).count()
    return Metric.rate(numerator, denominator)


def working_day_rows(scope: Scope, period: Period, *, today: date | None = None) -> list[dict]:
    """The meetings figure's denominator as rows: one per working day of each
    team (an agent: of the agent) up to today, newest first, each saying
    whether both meetings were held on time that day (the numerator). As
    many rows as ``meetings_on_time(...).denominator``."""
    today = today or timezone.localdate()
    last = min(period.end, today)
    if last < period.start:
        return []
    weekdays = store_weekdays(scope.stores().values_list("pk", flat=True))
    elapsed = Period(period.start, last)
    if scope.kind == "agent":
        units = [(None, store) for store in weekdays]
        group_by = ["day"]
        rows = Meeting.objects.filter(scope.q(MEETING_PATHS))
    else:
        teams = Team.objects.filter(scope.q(TEAM_PATHS), members__is_active=True).distinct()
        units = [(team, team.store_id) for team in teams.order_by("name", "pk")]
        group_by = ["team", "day"]
        rows = Meeting.objects.filter(scope.q(MEETING_PATHS), team__in=teams.values("pk"))
    on_time = {
        (row.get("team"), row["day"]) for row in on_time_days(rows, elapsed, weekdays, group_by)
    }
    days = [elapsed.end - timedelta(days=n) for n in range((elapsed.end - elapsed.start).days + 1)]
    return [
        {"day": day, "team": team, "on_time": (team.pk if team else None, day) in on_time}
        for day in days
        for team, store in units
        if day.isoweekday() in weekdays.get(store, ())
    ]


def groups_per(grouped, column: str) -> Counter:
    """How many rows of a grouped queryset (``values(column, …).annotate(…)``)
    each value of ``column`` has, counted by the database (a row per unit
    and day would be thousands to fetch)."""
    counts: Counter = Counter()
    try:
        sql, params = grouped.query.sql_with_params()
    except EmptyResultSet:  # a condition no row can meet (e.g. in an empty list)
        return counts
    name = connection.ops.quote_name(column)
    with connection.cursor() as cursor:
        # The ORM's own SQL and a quoted alias; values are parameters.
        cursor.execute(
            f"SELECT {name}, COUNT(*) FROM ({sql}) grouped GROUP BY {name}",  # noqa: S608
            params,
        )
        for value, n in cursor.fetchall():
            counts[value] = n
    return counts


def store_weekdays(stores) -> dict[int, frozenset[int]]:
    """Each store's working ISO weekdays (``KpiSettings``, else the default)."""
    stores = list(stores)
    configured = dict(
        KpiSettings.objects.filter(store__in=stores).values_list("store", "working_weekdays")
    )
    return {
        store: frozenset(int(d) for d in configured.get(store, DEFAULT_WORKING_WEEKDAYS))
        for store in stores
    }


def on_time_days(rows, elapsed: Period, weekdays: dict[int, frozenset[int]], group_by: list[str]):
    """``rows`` (meetings) grouped by ``group_by`` (which ends with ``day``),
    keeping the working days of the meeting's store (``weekdays``) within
    ``elapsed`` with both a morning and an evening meeting on time: one row
    per such day (and per whatever else ``group_by`` names)."""
    by_days: dict[frozenset[int], list[int]] = defaultdict(list)
    for store, days in weekdays.items():
        by_days[days].append(store)
    working = Q(pk__in=[])
    for days, store_ids in by_days.items():
        working |= Q(store__in=store_ids, weekday__in=sorted(days))
    return (
        rows.filter(between("held_at", elapsed))
        .with_on_time()
        .filter(on_time=True)
        .annotate(day=TruncDate("held_at"), weekday=ExtractIsoWeekDay("held_at"))
        .filter(working)
        .values(*group_by)
        .annotate(
            mornings=Count("pk", filter=Q(kind=MeetingKind.MORNING)),
            evenings=Count("pk", filter=Q(kind=MeetingKind.EVENING)),
        )
        .filter(mornings__gt=0, evenings__gt=0)
        .order_by()
    )
