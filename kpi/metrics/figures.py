"""``compute``: every KPI of a scope and period in a dozen grouped queries."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce, ExtractIsoWeekDay, TruncDate
from django.utils import timezone

from dcc.models import Team
from followups.models import Appointment
from kpi.metrics.base import (
    MEETING_PATHS,
    STAFF_PATHS,
    TEAM_PATHS,
    VISIT_LEAD_PATHS,
    Metric,
    Period,
    Scope,
)
from kpi.metrics.rows import (
    answered_in_time_q,
    arrived_q,
    between,
    carded_q,
    carried_over_q,
    converted_q,
    customer_calls,
    deals,
    first_call_q,
    first_invited_q,
    first_time_callers,
    followups,
    leads,
    received_q,
    sla_due_q,
    sla_met_q,
    targets,
    valid_a_card_q,
)
from kpi.metrics.table import KPIS
from kpi.models import DEFAULT_WORKING_WEEKDAYS, KpiSettings, Meeting, MeetingKind
from telephony.models import Direction

# ---------------------------------------------------------------- compute


def compute(scope: Scope, period: Period, *, today: date | None = None) -> dict[str, Metric]:
    """Every KPI of ``KPIS`` for the scope and period, in ``KPIS`` order."""
    today = today or timezone.localdate()
    counts = {
        **_lead_figures(scope, period),
        "first_calls": followups(scope).filter(first_call_q(period)).count(),
        **_visit_figures(scope, period),
        "deals": _deal_figures(scope, period)[0],
        "target_units": sum(_target_figures(scope, period).values()),
        **_card_figures(scope, period),
        **_call_figures(scope, period),
    }
    return figures_from(counts, meetings_on_time(scope, period, today=today))


def figures_from(counts: dict[str, int], meetings: Metric) -> dict[str, Metric]:
    """The KPIs from the counts the queries answer (``compute`` for one
    scope, ``kpi.grouped`` for every agent and team at once), in ``KPIS`` order."""
    c = counts
    figures: dict[str, Metric] = {}
    figures["followup_rate"] = Metric.rate(c["first_calls"], c["carried_over"] + c["received"])
    figures["invite_to_store_rate"] = Metric.rate(c["first_invited"], c["first_calls"])
    figures["deals"] = Metric.count(c["deals"])
    figures["sla_48h_compliance"] = Metric.rate(c["sla_met"], c["sla_due"])
    figures["card_creation_rate"] = Metric.rate(c["carded"], c["callers"])
    figures["return_visit_rate"] = Metric.rate(c["second_visits"], c["first_visits"])
    figures["test_drive_rate"] = Metric.rate(c["test_drives"], c["visits"])
    figures["conversion_30d"] = Metric.rate(c["converted"], c["received"])
    figures["sales_completion"] = Metric.rate(c["deals"], c["target_units"])
    figures["meetings_on_time"] = meetings
    figures["new_leads"] = Metric.count(c["received"])
    figures["new_a_cards"] = Metric.count(c["a_cards"])
    figures["calls_inbound"] = Metric.count(c["inbound"])
    figures["calls_outbound"] = Metric.count(c["outbound"])
    figures["inbound_calls_per_agent_day"] = Metric.per_day(c["inbound"], c["agent_days"])
    figures["outbound_calls_per_agent_day"] = Metric.per_day(c["outbound"], c["agent_days"])
    figures["talk_seconds_per_agent_day"] = Metric.per_day(c["talk"], c["agent_days"])
    figures["answered_in_time_rate"] = Metric.rate(c["in_time"], c["inbound"])
    return {name: figures[name] for name in KPIS}


# The counts as aggregates: ``compute`` aggregates them over one scope,
# ``kpi.grouped`` annotates them per agent or team (GROUP BY), so both count
# by the one definition.


def lead_counted_q(period: Period) -> Q:
    """The leads any lead figure may count (narrows the scan)."""
    return received_q(period) | carried_over_q(period) | sla_due_q(period)


def lead_counts(period: Period) -> dict:
    return {
        "received": Count("pk", filter=received_q(period)),
        "carried_over": Count("pk", filter=carried_over_q(period)),
        "a_cards": Count("pk", filter=received_q(period) & valid_a_card_q()),
        "sla_due": Count("pk", filter=sla_due_q(period)),
        "sla_met": Count("pk", filter=sla_met_q(period)),
        "converted": Count("pk", filter=converted_q(period)),
    }


def visit_counts_for_agent(where: Q | None = None) -> dict:
    """Per arrived visit, for the agent who booked (or recorded) it."""
    where = where or Q()
    return {
        "visits": Count("pk", filter=where) if where else Count("pk"),
        "test_drives": Count("pk", filter=where & Q(test_drive=True)),
        "first_invited": Count("pk", filter=where & first_invited_q()),
    }


def visit_counts_for_owner(where: Q | None = None) -> dict:
    """Per lead, for the lead's owner."""
    where = where or Q()
    return {
        "first_visits": Count("lead", distinct=True, filter=where & Q(visit_number=1)),
        "second_visits": Count("lead", distinct=True, filter=where & Q(visit_number=2)),
    }


def card_counts(period: Period) -> dict:
    return {"callers": Count("pk"), "carded": Count("pk", filter=carded_q(period))}


def call_counts() -> dict:
    return {
        "inbound": Count("pk", filter=Q(direction=Direction.INBOUND)),
        "outbound": Count("pk", filter=Q(direction=Direction.OUTBOUND)),
        "talk": Coalesce(Sum("billsec"), 0),
        "in_time": Count("pk", filter=answered_in_time_q()),
    }


def _lead_figures(scope: Scope, period: Period) -> dict[str, int]:
    """One pass over the scope's leads that any lead figure may count."""
    return leads(scope).filter(lead_counted_q(period)).aggregate(**lead_counts(period))


def _visit_figures(scope: Scope, period: Period) -> dict[str, int]:
    """One pass over the period's arrived visits: per visit for the agent
    who booked it, per lead for the lead's owner."""
    by_agent, by_owner = scope.q(STAFF_PATHS), scope.q(VISIT_LEAD_PATHS)
    return (
        Appointment.objects.filter(arrived_q(period))
        .filter(by_agent | by_owner)
        .aggregate(**visit_counts_for_agent(by_agent), **visit_counts_for_owner(by_owner))
    )


def _deal_figures(scope: Scope, period: Period) -> tuple[int, dict[str, int]]:
    rows = deals(scope, period).values("vehicle_model__category").annotate(n=Count("pk")).order_by()
    by_category = {row["vehicle_model__category"]: row["n"] for row in rows}
    return sum(by_category.values()), by_category


def _target_figures(scope: Scope, period: Period) -> dict[str, int]:
    rows = targets(scope, period).values("category").annotate(units=Sum("units")).order_by()
    return {row["category"]: row["units"] for row in rows}


def _card_figures(scope: Scope, period: Period) -> dict[str, int]:
    return first_time_callers(scope, period).aggregate(**card_counts(period))


def _call_figures(scope: Scope, period: Period) -> dict[str, int]:
    calls = customer_calls(scope, period)
    figures = calls.aggregate(**call_counts())
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
    planned = _target_figures(scope, period)
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
