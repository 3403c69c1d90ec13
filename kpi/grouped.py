"""Every KPI of many agents, teams or stores at once, in a fixed number of
grouped queries: the dashboards' comparisons (``kpi.dashboards.compare``)
and the monthly export of every store (``kpi.export``).

``compute(Scope("agent", id), period)`` answers one agent in about twelve
queries; 500 agents would take 6,000. Here each base table is read once
with ``GROUP BY`` the path ``compute`` follows for the level
(``kpi.metrics.base``: a lead's owner, its owner's team or its store; a
follow-up's, visit's, call's and deal's staff member, their team or the
store; a target's member; a meeting's attendees). The conditions and the
aggregates are ``kpi.metrics``' own (the registry's counts: ``lead_counts``,
``visit_counts_for_*``, ``caller_counts``, ``call_counts``; ``figures_from``,
``on_time_days``), so each unit's figures equal ``compute`` of that unit
exactly (tests keep them equal).

Teams of a store batch (``by_store``): every count whose rows belong to
exactly one agent adds up from the members' counts (the team path is the
agent path's ``team``). Two do not: first-time callers are the earliest
call per number *within the scope* (two members called by the same new
number: one caller for the team, one for each agent), and meetings count
team-days, not attendance; both are read per team in their own grouped
query.

Who: the staff whose store is one of the stores (active or not); their
figures follow them, as in ``compute``, whichever store the rows lie in.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from dcc.models import Team, User
from followups.models import Appointment
from kpi.metrics import Metric, Period, Scope, working_days
from kpi.metrics.base import (
    LEAD_PATHS,
    STAFF_PATHS,
    TARGET_PATHS,
    VISIT_LEAD_PATHS,
    VISIT_PATHS,
    staff_q,
    unit_q,
)
from kpi.metrics.figures import (
    call_counts,
    caller_counts,
    completion_by_category,
    figures_from,
    groups_per,
    invitation_counts,
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
    followups,
    leads,
    targets,
)
from kpi.metrics.table import COUNTS, KPIS
from kpi.models import Meeting

GROUP = Scope("group")


def _per(rows, key: str, into: dict[int, Counter], names=None) -> None:
    """Add each grouped row's counts to ``into[row[key]]``."""
    for row in rows:
        counts = into.get(row[key])
        if counts is None:
            continue  # not one of ours (e.g. no team)
        for name, value in row.items():
            if name != key and (names is None or name in names):
                counts[name] += value or 0


# The base tables ``unit_counts`` reads, each one grouped query (two for
# visits); a caller wanting some KPIs names only the tables they need.
TABLES = (
    "leads",
    "first_calls",
    "visits",
    "invitations",
    "deals",
    "targets",
    "callers",
    "calls",
)


def tables_for(names) -> tuple[str, ...]:
    """The tables ``unit_counts`` reads for the KPIs ``names`` (``Kpi.tables``)."""
    needed = {table for name in names for table in KPIS[name].tables}
    return tuple(table for table in TABLES if table in needed)


def unit_counts(
    level: str, ids, period: Period, *, tables: tuple[str, ...] = TABLES
) -> dict[int, Counter]:
    """The counts ``figures_from`` needs, per agent, team or store (``level``)
    of ``ids``, each by the path ``compute`` of that unit follows (a lead's
    owner, its owner's team or its store; a follow-up's, visit's, call's and
    deal's staff member, their team or the store; a target's member)."""
    return counts_by({level: ids}, period, tables=tables)[level]


def counts_by(
    levels: dict[str, list[int]], period: Period, *, tables: tuple[str, ...] = TABLES
) -> dict[str, dict[int, Counter]]:
    """``unit_counts`` of several levels at once (e.g. every store and every
    agent of a batch of stores): each table is grouped once by all the
    levels' paths together. A row has one unit per level, so each level's
    counts are the sums of the groups. Distinct counts are no such sums and
    have a query per level: visited leads (distinct per owner, team or
    store) and first-time callers (one window query for all the levels).
    Agent-days (an agent's distinct days with a call) come with the calls'
    groups when the levels include the agent, whose path is in every group:
    another level's are the sums of its agents' days there; an agent's are
    the sum over their groups, unless they have more than one (calls
    through two stores: the same day could count twice), whose days are
    counted again on their own. Without the agent level, each level has its
    agent-days query."""
    levels = {level: list(ids) for level, ids in levels.items()}
    counts = {level: {pk: Counter() for pk in ids} for level, ids in levels.items()}
    if not any(levels.values()):
        return counts

    def grouped(rows, paths: dict[str, str], **aggregates) -> list[dict]:
        """Group ``rows`` by every level's path; add each group's counts to
        its unit of each level; answer the groups' units."""
        columns = [paths[level] for level in levels]
        where, staff = Q(pk__in=[]), set()
        if {"agent", "team"} <= set(levels) and paths["team"] == f"{paths['agent']}__team":
            # Agents and teams: one condition on the staff member's column.
            staff = {"agent", "team"}
            where = staff_q(paths["agent"], agents=levels["agent"], teams=levels["team"])
        for level, ids in levels.items():
            if level not in staff:
                where |= unit_q(paths[level], ids)
        units = []
        for row in rows.filter(where).values(*columns).annotate(**aggregates).order_by():
            unit = {level: row.pop(paths[level]) for level in levels}
            units.append(unit)
            for level, pk in unit.items():
                into = counts[level].get(pk)
                if into is not None:
                    for name, value in row.items():
                        into[name] += value or 0
        return units

    if "leads" in tables:
        grouped(leads(GROUP).filter(lead_counted_q(period)), LEAD_PATHS, **lead_counts(period))
    if "first_calls" in tables:
        grouped(followups(GROUP).filter(first_call_q(period)), STAFF_PATHS, first_calls=Count("pk"))
    if "visits" in tables:
        # Per visit for the owner at the visit; per lead for its owner.
        visits = Appointment.objects.filter(arrived_q(period))
        grouped(visits, VISIT_PATHS, **visit_counts_for_agent(period))
        for level, ids in levels.items():
            path = VISIT_LEAD_PATHS[level]
            _per(
                visits.filter(**{f"{path}__in": ids})
                .values(path)
                .annotate(**visit_counts_for_owner())
                .order_by(),
                path,
                counts[level],
            )
    if "invitations" in tables:
        # The invitation, for who booked the visit.
        grouped(
            Appointment.objects.filter(arrived_q(period)),
            STAFF_PATHS,
            **invitation_counts(period),
        )
    if "deals" in tables:
        grouped(deals(GROUP, period), STAFF_PATHS, deals=Count("pk"))
    if "targets" in tables:
        grouped(targets(GROUP, period), TARGET_PATHS, target_units=Sum("units"))
    if "callers" in tables:
        # The earliest call per number within each unit.
        where = Q(pk__in=[])
        for level, ids in levels.items():
            where |= Q(**{f"{STAFF_PATHS[level]}__in": ids})
        callers = caller_counts(
            GROUP, period, {level: STAFF_PATHS[level] for level in levels}, where=where
        )
        for level, units in callers.items():
            for pk, values in units.items():
                if pk in counts[level]:
                    counts[level][pk].update(values)
    if "calls" in tables:
        _call_counts(customer_calls(GROUP, period), period, levels, counts, grouped)
    return counts


def _call_counts(calls, period, levels, counts, grouped) -> None:
    """``counts_by``'s calls: the call counts and agent-days (see there)."""
    day = TruncDate("started_at")
    if "agent" not in levels:
        grouped(calls, STAFF_PATHS, **call_counts(period))
        for level, ids in levels.items():
            path = STAFF_PATHS[level]
            rows = (
                calls.filter(**{f"{path}__in": ids}, agent__isnull=False)
                .values(path, "agent")
                .annotate(days=Count(day, distinct=True))
                .order_by()
            )
            for row in rows:
                counts[level][row[path]]["agent_days"] += row["days"]
        return
    units = grouped(
        calls,
        STAFF_PATHS,
        **call_counts(period),
        agent_days=Count(day, distinct=True, filter=Q(agent__isnull=False)),
    )
    groups_of = Counter(unit["agent"] for unit in units)
    several = [pk for pk, n in groups_of.items() if n > 1 and pk in counts["agent"]]
    if several:
        for pk in several:
            counts["agent"][pk]["agent_days"] = 0
        _per(
            calls.filter(agent__in=several)
            .values("agent")
            .annotate(agent_days=Count(day, distinct=True))
            .order_by(),
            "agent",
            counts["agent"],
        )


def categories_by(level: str, ids, period: Period) -> dict[int, dict[str, Metric]]:
    """``sales_completion_by_category`` per agent, team or store of ``ids``:
    deals and targets each grouped once by unit and category."""
    ids = list(ids)
    sold: dict[int, dict[str, int]] = defaultdict(dict)
    planned: dict[int, dict[str, int]] = defaultdict(dict)
    for rows, path, category, into, aggregate in (
        (deals(GROUP, period), STAFF_PATHS[level], "vehicle_model__category", sold, Count("pk")),
        (targets(GROUP, period), TARGET_PATHS[level], "category", planned, Sum("units")),
    ):
        grouped_rows = (
            rows.filter(**{f"{path}__in": ids}).values(path, category).annotate(n=aggregate)
        )
        for row in grouped_rows.order_by():
            into[row[path]][row[category]] = row["n"]
    return {pk: completion_by_category(sold[pk], planned[pk]) for pk in ids}


def agent_meetings(stores: list[int], period: Period, *, today: date) -> dict[int, Metric]:
    """Per staff member of ``stores``: working days on which they attended
    both meetings on time ÷ their store's working days (``meetings_on_time``)."""
    store_of = dict(User.objects.filter(store__in=stores).values_list("pk", "store"))
    last = min(period.end, today)
    if last < period.start:
        return {pk: Metric.rate(0, 0) for pk in store_of}
    weekdays = store_weekdays(stores)
    elapsed = Period(period.start, last)
    days = {store: working_days(elapsed, weekdays[store], until=last) for store in stores}
    rows = Meeting.objects.filter(attendees__in=list(store_of))
    attended = groups_per(on_time_days(rows, elapsed, weekdays, ["attendees", "day"]), "attendees")
    return {pk: Metric.rate(attended[pk], days[store]) for pk, store in store_of.items()}


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
    held = groups_per(on_time_days(rows, elapsed, weekdays, ["team", "day"]), "team")
    return {
        team.pk: Metric.rate(
            held[team.pk],
            working_days(elapsed, weekdays[team.store_id], until=last) if team.pk in active else 0,
        )
        for team in teams
    }


@dataclass
class StoreFigures:
    """A store's figures, its staff's and its teams', as ``compute`` answers them."""

    store: dict[str, Metric]
    agents: dict[int, dict[str, Metric]] = field(default_factory=dict)
    teams: dict[int, dict[str, Metric]] = field(default_factory=dict)
    # Sales completion per vehicle model category (the commission's rule).
    categories: dict[str, Metric] = field(default_factory=dict)
    team_categories: dict[int, dict[str, Metric]] = field(default_factory=dict)


def by_store(stores, period: Period, *, today: date | None = None) -> dict[int, StoreFigures]:
    """Per store of ``stores`` (ids): its figures, every staff member's and
    every team's, each base table read once for all of them (the monthly
    export of every store)."""
    today = today or timezone.localdate()
    stores = list(stores)
    staff = dict(User.objects.filter(store__in=stores).values_list("pk", "store"))
    team_of = dict(User.objects.filter(store__in=stores).values_list("pk", "team"))
    teams = list(Team.objects.filter(store__in=stores))
    without_callers = tuple(table for table in TABLES if table != "callers")
    both = counts_by({"store": stores, "agent": list(staff)}, period, tables=without_callers)
    per_store, per_agent = both["store"], both["agent"]
    # First-time callers of every agent, team and store in one query.
    callers = caller_counts(
        GROUP,
        period,
        {"agent": "agent", "team": "agent__team", "store": "store"},
        where=Q(agent__in=list(staff)) | Q(agent__team__in=teams) | Q(store__in=stores),
    )
    for unit, values in callers["agent"].items():
        if unit in per_agent:
            per_agent[unit].update(values)
    per_team: dict[int, Counter] = defaultdict(Counter)
    for agent, counts in per_agent.items():
        if team_of.get(agent) is not None:
            for name, value in counts.items():
                if additive(name):
                    per_team[team_of[agent]][name] += value
    for unit, values in callers["store"].items():
        if unit in per_store:
            per_store[unit].update(values)
    agent_meeting = agent_meetings(stores, period, today=today)
    team_meeting = team_meetings(teams, period, today=today)
    # A store's meetings: its teams' on-time days ÷ their working days (a
    # meeting is its team's store's).
    held: Counter = Counter()
    days: Counter = Counter()
    for team in teams:
        held[team.store_id] += team_meeting[team.pk].numerator
        days[team.store_id] += team_meeting[team.pk].denominator
    result = {
        store: StoreFigures(
            store=figures_from(filled(per_store[store]), Metric.rate(held[store], days[store]))
        )
        for store in stores
    }
    for store, categories in categories_by("store", stores, period).items():
        result[store].categories = categories
    team_categories = categories_by("team", [team.pk for team in teams], period)
    for pk, counts in per_agent.items():
        result[staff[pk]].agents[pk] = figures_from(filled(counts), agent_meeting[pk])
    for team in teams:
        result[team.store_id].teams[team.pk] = figures_from(
            filled(per_team[team.pk] + Counter(callers["team"].get(team.pk, {}))),
            team_meeting[team.pk],
        )
        result[team.store_id].team_categories[team.pk] = team_categories[team.pk]
    return result


def additive(name: str) -> bool:
    """Whether a team's count is the sum of its members' (see the module
    doc: not the first-time callers')."""
    return COUNTS[name].table != "callers"


def filled(counts: Counter) -> dict[str, int]:
    """The counts ``figures_from`` reads (the registry's, but the meetings',
    which come as a figure of their own), with a zero for each one not
    there (a unit without rows)."""
    return {
        name: counts.get(name, 0) for name, count in COUNTS.items() if count.table != "meetings"
    }
