"""Deals (once per vehicle, at order else delivery), the supervisor's target
grid (任务分配表) and sales completion (DESIGN §3)."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from kpi import services
from kpi.metrics import Period, Scope, compute, drilldown, sales_completion_by_category
from kpi.models import Target
from tests.kpi.conftest import OCTOBER, at

pytestmark = pytest.mark.django_db
OCT_1 = date(2026, 10, 1)


def figure(scope, name, period=OCTOBER):
    metric = compute(scope, period)[name]
    return metric.numerator, metric.denominator, metric.value


@pytest.fixture
def deals_scenario(alice, bob, lead, deal, envision, gl8):
    d = {}
    # D1 ordered 5 Oct, delivered 2 Nov: October's (at the order).
    d["D1"] = deal(lead(alice, at(9, 1)), envision, at(10, 5))
    deal(d["D1"].lead, envision, at(11, 2), stage="delivered")
    # D2 ordered 23:59:59 on 30 Sep, delivered 3 Oct: September's.
    d["D2"] = deal(lead(alice, at(9, 1)), gl8, at(9, 30, 23, 59, 59))
    deal(d["D2"].lead, gl8, at(10, 3), stage="delivered")
    # D3 delivered without an order at 23:59:59 on 31 Oct: October's.
    d["D3"] = deal(lead(bob, at(9, 1)), envision, at(10, 31, 23, 59, 59), stage="delivered")
    # D4 delivered without an order at 00:00:00 on 1 Nov: November's.
    d["D4"] = deal(lead(bob, at(9, 1)), envision, at(11, 1, 0, 0, 0), stage="delivered")
    # D5 and D6: one customer orders two vehicles, an SUV and an MPV.
    two = lead(alice, at(9, 1))
    d["D5"] = deal(two, envision, at(10, 10))
    d["D6"] = deal(two, gl8, at(10, 11))
    return d


def test_deals_once_per_vehicle_at_order_else_delivery(
    deals_scenario, store_a, alice, bob, team_a1
):
    d = deals_scenario
    # October: D1 D3 D5 D6 = 4 (alice D1 D5 D6, bob D3); November: D4.
    assert figure(Scope("store", store_a.pk), "deals") == (4, None, 4)
    assert figure(Scope("agent", alice.pk), "deals") == (3, None, 3)
    assert figure(Scope("agent", bob.pk), "deals") == (1, None, 1)
    assert figure(Scope("team", team_a1.pk), "deals") == (4, None, 4)
    assert figure(Scope("store", store_a.pk), "deals", Period.month(2026, 11))[0] == 1
    october = drilldown(Scope("store", store_a.pk), OCTOBER, "deals", "numerator")
    assert set(october.values_list("pk", flat=True)) == {d[k].pk for k in ("D1", "D3", "D5", "D6")}


def test_sales_completion_against_the_target_grid(
    deals_scenario, store_a, team_a1, team_a2, alice, bob, carol, sue, mike, dave
):
    # Sue's grid for team A1: alice SUV 2 + MPV 2, bob SUV 1; mike's for A2: carol SUV 1.
    services.targets_set(
        actor=sue,
        team=team_a1,
        month=OCT_1,
        units={(alice.pk, "SUV"): 2, (alice.pk, "MPV"): 2, (bob.pk, "SUV"): 1},
    )
    services.targets_set(actor=mike, team=team_a2, month=OCT_1, units={(carol.pk, "SUV"): 1})
    # alice: deals D1 D5 (SUV) D6 (MPV) = 3 of 4 → 75 %; SUV 2/2, MPV 1/2.
    assert figure(Scope("agent", alice.pk), "sales_completion") == (3, 4, Decimal("75.00"))
    by_category = sales_completion_by_category(Scope("agent", alice.pk), OCTOBER)
    assert {c: m.value for c, m in by_category.items()} == {
        "MPV": Decimal("50.00"),
        "SUV": Decimal("100.00"),
    }
    # bob: D3 of 1 → 100 %; carol 0 of 1 → 0 %; team A1 4 of 5 → 80 %; store 4 of 6.
    assert figure(Scope("agent", bob.pk), "sales_completion") == (1, 1, Decimal("100.00"))
    assert figure(Scope("agent", carol.pk), "sales_completion") == (0, 1, Decimal("0.00"))
    assert figure(Scope("team", team_a1.pk), "sales_completion") == (4, 5, Decimal("80.00"))
    assert figure(Scope("store", store_a.pk), "sales_completion") == (4, 6, Decimal("66.67"))
    # No target, no base: null.
    assert figure(Scope("agent", dave.pk), "sales_completion") == (0, 0, None)
    targets = drilldown(Scope("store", store_a.pk), OCTOBER, "sales_completion", "denominator")
    assert targets.count() == 4
    # A range over October and November brings both months' targets: with
    # November's SUV 1 for alice, alice has 3 deals (D4 is bob's) of 5 → 60 %.
    services.targets_set(
        actor=sue, team=team_a1, month=date(2026, 11, 1), units={(alice.pk, "SUV"): 1}
    )
    two_months = Period(date(2026, 10, 1), date(2026, 11, 30))
    assert figure(Scope("agent", alice.pk), "sales_completion", two_months) == (
        3,
        5,
        Decimal("60.00"),
    )


def test_target_grid_updates_removes_and_keeps_history(alice, bob, sue, team_a1, envision):
    created = services.targets_set(
        actor=sue, team=team_a1, month=OCT_1, units={(alice.pk, "SUV"): 2, (bob.pk, "SUV"): 1}
    )
    assert created == {"created": 2, "changed": 0, "removed": 0}
    again = services.targets_set(
        actor=sue, team=team_a1, month=OCT_1, units={(alice.pk, "SUV"): 3, (bob.pk, "SUV"): None}
    )
    assert again == {"created": 0, "changed": 1, "removed": 1}
    target = Target.objects.get(member=alice, month=OCT_1, category="SUV")
    assert target.units == 3
    assert target.set_by == sue
    assert [h.units for h in target.history.order_by("history_date")] == [2, 3]
    assert target.history.first().history_user == sue
    assert not Target.objects.filter(member=bob).exists()
    unchanged = services.targets_set(
        actor=sue, team=team_a1, month=OCT_1, units={(alice.pk, "SUV"): 3}
    )
    assert unchanged == {"created": 0, "changed": 0, "removed": 0}


def test_target_grid_refuses_outsiders_and_bad_cells(alice, carol, sue, team_a1, team_a2, envision):
    with pytest.raises(PermissionDenied):
        services.targets_set(actor=alice, team=team_a1, month=OCT_1, units={})
    with pytest.raises(PermissionDenied):  # another team than the supervisor's
        services.targets_set(actor=sue, team=team_a2, month=OCT_1, units={})
    with pytest.raises(ValidationError):  # carol is not in team A1
        services.targets_set(actor=sue, team=team_a1, month=OCT_1, units={(carol.pk, "SUV"): 1})
    with pytest.raises(ValidationError):  # no vehicle model has this category
        services.targets_set(actor=sue, team=team_a1, month=OCT_1, units={(alice.pk, "卡车"): 1})
    with pytest.raises(ValidationError):  # a month starts on its first day
        services.targets_set(
            actor=sue, team=team_a1, month=date(2026, 10, 2), units={(alice.pk, "SUV"): 1}
        )
