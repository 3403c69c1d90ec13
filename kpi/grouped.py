"""Every KPI of every agent and every team of a store, in a fixed number of
grouped queries (the monthly export: ``kpi.export``).

``compute(Scope("agent", id), period)`` answers one agent in about twelve
queries; a store of 500 agents would take 6,000. Here each base table is
read once with ``GROUP BY`` the agent path of ``kpi.metrics`` (a lead's
owner, a follow-up's, visit's, call's and deal's staff member, a target's
member, a meeting's attendees). The conditions and the aggregates are
``kpi.metrics``' own (``lead_counts``, ``visit_counts_for_*``,
``card_counts``, ``call_counts``, ``figures_from``, ``on_time_days``), so
each agent's figures equal ``compute`` of that agent exactly (a test keeps
them equal).

Teams: every count whose rows belong to exactly one agent adds up from the
members' counts (the team path is the agent path's ``team``). Two do not:
first-time callers are the earliest call per number *within the scope*
(two members called by the same new number: one caller for the team, one
for each agent), and meetings count team-days, not attendance; both are
read per team in their own grouped query.

Who: the staff whose store is ``store`` (active or not); their figures
follow them, as in ``compute``, whichever store the rows lie in.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date

from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from dcc.models import Store, Team, User
from followups.models import Appointment
from kpi.metrics import Metric, Period, Scope, working_days
from kpi.metrics.figures import (
    call_counts,
    card_counts,
    figures_from,
    lead_counted_q,
    lead_counts,
    on_time_days,
    store_weekdays,
    visit_counts_for_agent,
    visit_counts_for_owner,
)
from kpi.metrics.rows import (
    arrived_q,
    customer_calls,
    deals,
    first_call_q,
    first_time_callers,
    followups,
    leads,
    targets,
)
from kpi.models import Meeting

GROUP = Scope("group")

# The counts ``figures_from`` reads; an agent without rows has zeros.
COUNTS = (
    "received",
    "carried_over",
    "a_cards",
    "sla_due",
    "sla_met",
    "converted",
    "first_calls",
    "visits",
    "test_drives",
    "first_invited",
    "first_visits",
    "second_visits",
    "deals",
    "target_units",
    "callers",
    "carded",
    "inbound",
    "outbound",
    "talk",
    "in_time",
    "agent_days",
)
# Counts that do not add up from members to their team (see the module doc).
NOT_ADDITIVE = ("callers", "carded")


def _per(rows, key: str, into: dict[int, Counter], names=None) -> None:
    """Add each grouped row's counts to ``into[row[key]]``."""
    for row in rows:
        counts = into.get(row[key])
        if counts is None:
            continue  # not one of ours (e.g. no team)
        for name, value in row.items():
            if name != key and (names is None or name in names):
                counts[name] += value or 0


def agent_counts(store: Store, period: Period) -> dict[int, Counter]:
    """Every count ``figures_from`` needs, per staff member of ``store``:
    one grouped query per base table."""
    staff = User.objects.filter(store=store)
    ids = staff.values("pk")
    counts: dict[int, Counter] = {pk: Counter() for pk in staff.values_list("pk", flat=True)}
    # 1. Leads, for their owner.
    _per(
        leads(GROUP)
        .filter(lead_counted_q(period), owner__in=ids)
        .values("owner")
        .annotate(**lead_counts(period))
        .order_by(),
        "owner",
        counts,
    )
    # 2. First phone follow-ups, for who made them.
    _per(
        followups(GROUP)
        .filter(first_call_q(period), agent__in=ids)
        .values("agent")
        .annotate(first_calls=Count("pk"))
        .order_by(),
        "agent",
        counts,
    )
    # 3. Arrived visits: per visit for who booked it, per lead for its owner.
    visits = Appointment.objects.filter(arrived_q(period))
    _per(
        visits.filter(agent__in=ids)
        .values("agent")
        .annotate(**visit_counts_for_agent())
        .order_by(),
        "agent",
        counts,
    )
    _per(
        visits.filter(lead__owner__in=ids)
        .values("lead__owner")
        .annotate(**visit_counts_for_owner())
        .order_by(),
        "lead__owner",
        counts,
    )
    # 4. Deals and targets.
    _per(
        deals(GROUP, period)
        .filter(agent__in=ids)
        .values("agent")
        .annotate(deals=Count("pk"))
        .order_by(),
        "agent",
        counts,
    )
    _per(
        targets(GROUP, period)
        .filter(member__in=ids)
        .values("member")
        .annotate(target_units=Sum("units"))
        .order_by(),
        "member",
        counts,
    )
    # 5. First-time callers: the earliest call per number of each agent.
    _per(
        first_time_callers(GROUP, period, per="agent")
        .filter(agent__in=ids)
        .values("agent")
        .annotate(**card_counts(period))
        .order_by(),
        "agent",
        counts,
    )
    # 6. Customer calls; an agent-day is a local day with a call.
    _per(
        customer_calls(GROUP, period)
        .filter(agent__in=ids)
        .values("agent")
        .annotate(**call_counts(), agent_days=Count(TruncDate("started_at"), distinct=True))
        .order_by(),
        "agent",
        counts,
    )
    return counts


def agent_meetings(store: Store, period: Period, *, today: date) -> dict[int, Metric]:
    """Per staff member of ``store``: working days on which they attended
    both meetings on time ÷ the store's working days (``meetings_on_time``)."""
    staff = list(User.objects.filter(store=store).values_list("pk", flat=True))
    last = min(period.end, today)
    if last < period.start:
        return {pk: Metric.rate(0, 0) for pk in staff}
    weekdays = store_weekdays([store.pk])
    elapsed = Period(period.start, last)
    days = working_days(elapsed, weekdays[store.pk], until=last)
    rows = Meeting.objects.filter(attendees__in=staff)
    attended = Counter(
        row["attendees"] for row in on_time_days(rows, elapsed, weekdays, ["attendees", "day"])
    )
    return {pk: Metric.rate(attended[pk], days) for pk in staff}


def team_meetings(teams: list[Team], period: Period, *, today: date) -> dict[int, Metric]:
    """Per team: working days with both meetings on time ÷ working days, for
    a team with an active member (``meetings_on_time``)."""
    last = min(period.end, today)
    if last < period.start:
        return {team.pk: Metric.rate(0, 0) for team in teams}
    active = set(
        Team.objects.filter(pk__in=[t.pk for t in teams], members__is_active=True).values_list(
            "pk", flat=True
        )
    )
    weekdays = store_weekdays({team.store_id for team in teams})
    elapsed = Period(period.start, last)
    rows = Meeting.objects.filter(team__in=active)
    held = Counter(row["team"] for row in on_time_days(rows, elapsed, weekdays, ["team", "day"]))
    return {
        team.pk: Metric.rate(
            held[team.pk],
            working_days(elapsed, weekdays[team.store_id], until=last) if team.pk in active else 0,
        )
        for team in teams
    }


def team_callers(teams: list[Team], period: Period) -> dict[int, Counter]:
    """First-time callers per team: the earliest call per number within the team."""
    counts = {team.pk: Counter() for team in teams}
    _per(
        first_time_callers(GROUP, period, per="agent__team")
        .filter(agent__team__in=list(counts))
        .values("agent__team")
        .annotate(**card_counts(period))
        .order_by(),
        "agent__team",
        counts,
    )
    return counts


def by_agent_and_team(
    store: Store, period: Period, *, today: date | None = None
) -> tuple[dict[int, dict], dict[int, dict]]:
    """``({agent id: figures}, {team id: figures})`` for every staff member
    and team of ``store``; figures as ``compute`` answers them."""
    today = today or timezone.localdate()
    per_agent = agent_counts(store, period)
    teams = list(Team.objects.filter(store=store))
    team_of = dict(User.objects.filter(store=store).values_list("pk", "team"))
    per_team: dict[int, Counter] = defaultdict(Counter)
    for agent, counts in per_agent.items():
        if team_of.get(agent) is not None:
            for name, value in counts.items():
                if name not in NOT_ADDITIVE:
                    per_team[team_of[agent]][name] += value
    callers = team_callers(teams, period)
    agent_meeting = agent_meetings(store, period, today=today)
    team_meeting = team_meetings(teams, period, today=today)
    agents = {
        pk: figures_from(_filled(counts), agent_meeting[pk]) for pk, counts in per_agent.items()
    }
    team_figures = {
        team.pk: figures_from(_filled(per_team[team.pk] + callers[team.pk]), team_meeting[team.pk])
        for team in teams
    }
    return agents, team_figures


def _filled(counts: Counter) -> dict[str, int]:
    return {name: counts.get(name, 0) for name in COUNTS}
