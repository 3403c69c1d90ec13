"""Scopes add up and every figure drills down to exactly the rows it counts.

One mixed scenario over two stores: agents' figures sum to their team's,
teams' (plus staff without a team) to their store's, stores' to the group's;
each numerator and denominator equals the count of its drill-down.
"""

from datetime import date

import pytest
from django.db.models import Sum

from kpi import services
from kpi.metrics import KPIS, PARTS, Scope, compute, drilldown, has_rows
from tests.kpi.conftest import OCTOBER

pytestmark = pytest.mark.django_db

# Figures whose rows each belong to exactly one agent, team and store.
ADDITIVE = [
    name for name in KPIS if name != "meetings_on_time" and KPIS[name].unit in ("percent", "count")
]


@pytest.fixture
def scenario(october_activity, alice, bob, carol, dave, sue, mike, mary, team_a1, team_a2, team_b1):
    month = date(2026, 10, 1)
    services.targets_set(
        actor=sue, team=team_a1, month=month, units={(alice.pk, "SUV"): 2, (bob.pk, "MPV"): 1}
    )
    services.targets_set(actor=mike, team=team_a2, month=month, units={(carol.pk, "SUV"): 3})
    services.targets_set(actor=mary, team=team_b1, month=month, units={(dave.pk, "SUV"): 1})


def _sum(figures, name, part):
    return sum(getattr(f[name], part) or 0 for f in figures)


def test_scopes_add_up(scenario, store_a, store_b, team_a1, team_a2, alice, bob, carol, mike):
    agents = {u: compute(Scope("agent", u.pk), OCTOBER) for u in (alice, bob, carol, mike)}
    teams = {t: compute(Scope("team", t.pk), OCTOBER) for t in (team_a1, team_a2)}
    store = compute(Scope("store", store_a.pk), OCTOBER)
    other = compute(Scope("store", store_b.pk), OCTOBER)
    group = compute(Scope("group"), OCTOBER)
    for name in ADDITIVE:
        for part in ("numerator", "denominator"):
            team_a1_sum = _sum([agents[alice], agents[bob]], name, part)
            assert (getattr(teams[team_a1][name], part) or 0) == team_a1_sum, (name, part)
            team_a2_sum = _sum([agents[carol]], name, part)
            assert (getattr(teams[team_a2][name], part) or 0) == team_a2_sum, (name, part)
            store_sum = _sum([*teams.values(), agents[mike]], name, part)
            assert (getattr(store[name], part) or 0) == store_sum, (name, part)
            group_sum = _sum([store, other], name, part)
            assert (getattr(group[name], part) or 0) == group_sum, (name, part)
    # The scenario is not empty: every rate has a base somewhere.
    assert all(store[name].numerator for name in ("followup_rate", "deals", "test_drive_rate"))


@pytest.mark.parametrize("kind", ["agent", "team", "store", "group"])
def test_drilldowns_count_what_the_figures_count(scenario, kind, alice, team_a1, store_a):
    scope = Scope(kind, {"agent": alice.pk, "team": team_a1.pk, "store": store_a.pk}.get(kind))
    figures = compute(scope, OCTOBER)
    checked = 0
    for name in KPIS:
        if name in ("meetings_on_time", "sales_completion", "talk_seconds_per_agent_day"):
            continue  # days, target units and seconds are not row counts
        for part in PARTS:
            if not has_rows(name, part):
                continue
            count = drilldown(scope, OCTOBER, name, part).count()
            assert count == getattr(figures[name], part), (name, part)
            checked += 1
    assert checked >= 20
    assert drilldown(scope, OCTOBER, "sales_completion", "numerator").count() == (
        figures["sales_completion"].numerator
    )
    talk = drilldown(scope, OCTOBER, "talk_seconds_per_agent_day", "numerator")
    assert talk.aggregate(total=Sum("billsec"))["total"] == (
        figures["talk_seconds_per_agent_day"].numerator
    )
    units = drilldown(scope, OCTOBER, "sales_completion", "denominator")
    assert units.aggregate(total=Sum("units"))["total"] == (figures["sales_completion"].denominator)


def test_compute_is_a_fixed_number_of_queries(scenario, store_a, django_assert_max_num_queries):
    # A dozen grouped queries whatever the number of rows.
    with django_assert_max_num_queries(12):
        compute(Scope("store", store_a.pk), OCTOBER)
    with django_assert_max_num_queries(12):
        compute(Scope("group"), OCTOBER)
