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
    figures: dict[str, Metric] = {}
    lead = _lead_figures(scope, period)
    first_calls = followups(scope).filter(first_call_q(period)).count()
    visit = _visit_figures(scope, period)
    deal_total, _by_category = _deal_figures(scope, period)
    target_total = sum(_target_figures(scope, period).values())
    card = _card_figures(scope, period)
    call = _call_figures(scope, period)
    figures["followup_rate"] = Metric.rate(first_calls, lead["carried_over"] + lead["received"])
    figures["invite_to_store_rate"] = Metric.rate(visit["first_invited"], first_calls)
    figures["deals"] = Metric.count(deal_total)
    figures["sla_48h_compliance"] = Metric.rate(lead["sla_met"], lead["sla_due"])
    figures["card_creation_rate"] = Metric.rate(card["carded"], card["callers"])
    figures["return_visit_rate"] = Metric.rate(visit["second_visits"], visit["first_visits"])
    figures["test_drive_rate"] = Metric.rate(visit["test_drives"], visit["visits"])
    figures["conversion_30d"] = Metric.rate(lead["converted"], lead["received"])
    figures["sales_completion"] = Metric.rate(deal_total, target_total)
    figures["meetings_on_time"] = meetings_on_time(scope, period, today=today)
    figures["new_leads"] = Metric.count(lead["received"])
    figures["new_a_cards"] = Metric.count(lead["a_cards"])
    figures["calls_inbound"] = Metric.count(call["inbound"])
    figures["calls_outbound"] = Metric.count(call["outbound"])
    figures["inbound_calls_per_agent_day"] = Metric.per_day(call["inbound"], call["agent_days"])
    figures["outbound_calls_per_agent_day"] = Metric.per_day(call["outbound"], call["agent_days"])
    figures["talk_seconds_per_agent_day"] = Metric.per_day(call["talk"], call["agent_days"])
    figures["answered_in_time_rate"] = Metric.rate(call["in_time"], call["inbound"])
    return {name: figures[name] for name in KPIS}


def _lead_figures(scope: Scope, period: Period) -> dict[str, int]:
    """One pass over the scope's leads that any lead figure may count."""
    counted = received_q(period) | carried_over_q(period) | sla_due_q(period)
    return (
        leads(scope)
        .filter(counted)
        .aggregate(
            received=Count("pk", filter=received_q(period)),
            carried_over=Count("pk", filter=carried_over_q(period)),
            a_cards=Count("pk", filter=received_q(period) & valid_a_card_q()),
            sla_due=Count("pk", filter=sla_due_q(period)),
            sla_met=Count("pk", filter=sla_met_q(period)),
            converted=Count("pk", filter=converted_q(period)),
        )
    )


def _visit_figures(scope: Scope, period: Period) -> dict[str, int]:
    """One pass over the period's arrived visits: per visit for the agent
    who booked it, per lead for the lead's owner."""
    by_agent, by_owner = scope.q(STAFF_PATHS), scope.q(VISIT_LEAD_PATHS)
    return (
        Appointment.objects.filter(arrived_q(period))
        .filter(by_agent | by_owner)
        .aggregate(
            visits=Count("pk", filter=by_agent),
            test_drives=Count("pk", filter=by_agent & Q(test_drive=True)),
            first_invited=Count("pk", filter=by_agent & first_invited_q()),
            first_visits=Count("lead", distinct=True, filter=by_owner & Q(visit_number=1)),
            second_visits=Count("lead", distinct=True, filter=by_owner & Q(visit_number=2)),
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
    return first_time_callers(scope, period).aggregate(
        callers=Count("pk"), carded=Count("pk", filter=carded_q(period))
    )


def _call_figures(scope: Scope, period: Period) -> dict[str, int]:
    calls = customer_calls(scope, period)
    figures = calls.aggregate(
        inbound=Count("pk", filter=Q(direction=Direction.INBOUND)),
        outbound=Count("pk", filter=Q(direction=Direction.OUTBOUND)),
        talk=Coalesce(Sum("billsec"), 0),
        in_time=Count("pk", filter=answered_in_time_q()),
    )
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
    stores = list(scope.stores().values_list("pk", flat=True))
    configured = dict(
        KpiSettings.objects.filter(store__in=stores).values_list("store", "working_weekdays")
    )
    weekdays = {
        store: frozenset(int(d) for d in configured.get(store, DEFAULT_WORKING_WEEKDAYS))
        for store in stores
    }
    elapsed = Period(period.start, last)
    if scope.kind == "agent":
        units = dict.fromkeys(stores, 1)
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
        working_days(elapsed, weekdays[store], until=last) * units.get(store, 0) for store in stores
    )
    by_days: dict[frozenset[int], list[int]] = defaultdict(list)
    for store, days in weekdays.items():
        by_days[days].append(store)
    working = Q(pk__in=[])
    for days, store_ids in by_days.items():
        working |= Q(store__in=store_ids, weekday__in=sorted(days))
    numerator = (
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
        .count()
    )
    return Metric.rate(numerator, denominator)
