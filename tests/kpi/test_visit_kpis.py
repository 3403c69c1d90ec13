"""Visit KPIs on one hand-worked scenario: invitation-to-store rate,
return-to-showroom rate and test-drive rate (DESIGN §3), with walk-ins,
a September first visit and arrivals at the month's edges."""

from decimal import Decimal

import pytest

from kpi.metrics import Scope, compute, drilldown
from tests.kpi.conftest import OCTOBER, at

pytestmark = pytest.mark.django_db


@pytest.fixture
def scenario(alice, bob, carol, lead, call_log, visit):
    v = {}
    # V1 (alice) first called 2 Oct; invited, arrived 8 Oct with a test drive (visit 1).
    v["V1"] = lead(alice, at(9, 20))
    call_log(alice, v["V1"], at(10, 2))
    v["V1a"] = visit(alice, v["V1"], at(10, 8, 10), test_drive=True)
    # V2 (alice) first called 3 Oct; invited, arrived 12 Oct (visit 1); came back
    # by themselves on 18 Oct and drove (visit 2, a walk-in recorded by mike).
    v["V2"] = lead(alice, at(10, 3, 9))
    call_log(alice, v["V2"], at(10, 3, 10))
    v["V2a"] = visit(alice, v["V2"], at(10, 12))
    v["V2b"] = visit(None, v["V2"], at(10, 18), test_drive=True)
    # V3 (alice) first called in September; walked in on 4 Oct (visit 1), then
    # invited and arrived 20 Oct (visit 2): its first *invited* visit.
    v["V3"] = lead(alice, at(9, 25))
    call_log(alice, v["V3"], at(9, 26))
    v["V3a"] = visit(None, v["V3"], at(10, 4))
    v["V3b"] = visit(alice, v["V3"], at(10, 20))
    # V4 (alice) invited visits on 20 Sep (visit 1) and 9 Oct (visit 2).
    v["V4"] = lead(alice, at(9, 1))
    call_log(alice, v["V4"], at(9, 2))
    v["V4a"] = visit(alice, v["V4"], at(9, 20))
    v["V4b"] = visit(alice, v["V4"], at(10, 9))
    # V5 (carol) first called 6 Oct; arrived at 00:00:00 on 1 November.
    v["V5"] = lead(carol, at(10, 5))
    call_log(carol, v["V5"], at(10, 6))
    v["V5a"] = visit(carol, v["V5"], at(11, 1, 0, 0, 0))
    # V6 (bob) first called 11 Oct; arrived at 23:59:59 on 31 October, drove.
    v["V6"] = lead(bob, at(10, 10))
    call_log(bob, v["V6"], at(10, 11))
    v["V6a"] = visit(bob, v["V6"], at(10, 31, 23, 59, 59), test_drive=True)
    # V7 (bob) first called 12 Oct, never came.
    v["V7"] = lead(bob, at(10, 12, 9))
    call_log(bob, v["V7"], at(10, 12, 10))
    return v


def figure(scope, name):
    metric = compute(scope, OCTOBER)[name]
    return metric.numerator, metric.denominator, metric.value


def rows(scope, name, part):
    return set(drilldown(scope, OCTOBER, name, part).values_list("pk", flat=True))


def test_invitation_to_store_rate(scenario, store_a, alice, bob, carol):
    v = scenario
    store = Scope("store", store_a.pk)
    # First invited visits in October: V1a V2a V3b (alice), V6a (bob) = 4.
    # First calls in October: V1 V2 (alice), V5 (carol), V6 V7 (bob) = 5 → 80 %.
    assert figure(store, "invite_to_store_rate") == (4, 5, Decimal("80.00"))
    # alice: 3 first invited visits over 2 first calls (V3 was called in
    # September) = 150 %: the visits and the calls are different events.
    assert figure(Scope("agent", alice.pk), "invite_to_store_rate") == (3, 2, Decimal("150.00"))
    assert figure(Scope("agent", bob.pk), "invite_to_store_rate") == (1, 2, Decimal("50.00"))
    assert figure(Scope("agent", carol.pk), "invite_to_store_rate") == (0, 1, Decimal("0.00"))
    expected = {v[k].pk for k in ("V1a", "V2a", "V3b", "V6a")}
    assert rows(store, "invite_to_store_rate", "numerator") == expected


def test_test_drive_rate(scenario, store_a, team_a1, alice, bob, carol, mike):
    v = scenario
    store = Scope("store", store_a.pk)
    # October visits: V1a(TD) V2a V2b(TD) V3a V3b V4b V6a(TD) = 7, 3 with a test
    # drive → 42.857… = 42.86 %. V4a is September's, V5a November's.
    assert figure(store, "test_drive_rate") == (3, 7, Decimal("42.86"))
    # For the lead's owner at the visit (who booked keeps the invitation
    # only; a walk-in the manager recorded is the owner's visit too): alice
    # V1a V2a V2b V3a V3b V4b, 2 TD → 33.33 %; mike recorded but owns none.
    assert figure(Scope("agent", alice.pk), "test_drive_rate") == (2, 6, Decimal("33.33"))
    assert figure(Scope("agent", bob.pk), "test_drive_rate") == (1, 1, Decimal("100.00"))
    assert figure(Scope("agent", mike.pk), "test_drive_rate") == (0, 0, None)
    # Team A1: alice + bob = 3 / 7. carol had no visit: no base, no rate.
    assert figure(Scope("team", team_a1.pk), "test_drive_rate") == (3, 7, Decimal("42.86"))
    assert figure(Scope("agent", carol.pk), "test_drive_rate") == (0, 0, None)
    expected = {v[k].pk for k in ("V1a", "V2a", "V2b", "V3a", "V3b", "V4b", "V6a")}
    assert rows(store, "test_drive_rate", "denominator") == expected
    assert rows(store, "test_drive_rate", "numerator") == {v[k].pk for k in ("V1a", "V2b", "V6a")}


def test_return_to_showroom_rate(scenario, store_a, alice, bob, carol):
    v = scenario
    store = Scope("store", store_a.pk)
    # Leads with their first visit in October: V1 V2 V3 (the walk-in) V6 = 4;
    # with their second visit in October: V2 V3 V4 = 3 → 75 %.
    assert figure(store, "return_visit_rate") == (3, 4, Decimal("75.00"))
    # By owner: alice V1 V2 V3 first, V2 V3 V4 second → 100 %; bob 0 / 1.
    assert figure(Scope("agent", alice.pk), "return_visit_rate") == (3, 3, Decimal("100.00"))
    assert figure(Scope("agent", bob.pk), "return_visit_rate") == (0, 1, Decimal("0.00"))
    assert figure(Scope("agent", carol.pk), "return_visit_rate") == (0, 0, None)
    assert rows(store, "return_visit_rate", "numerator") == {v[k].pk for k in ("V2", "V3", "V4")}
    expected = {v[k].pk for k in ("V1", "V2", "V3", "V6")}
    assert rows(store, "return_visit_rate", "denominator") == expected
