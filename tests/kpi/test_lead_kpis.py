"""Lead KPIs on hand-worked scenarios: follow-up rate (with leads carried
over from September), 48-hour compliance, 30-day conversion, new leads and
A-cards, at the month's edges in Asia/Shanghai. Expected numbers are worked
out in the comments from DESIGN §3 and the interpretations in kpi.metrics."""

from datetime import timedelta
from decimal import Decimal

import pytest

from followups import sla
from followups.models import SlaBreach
from kpi.metrics import Period, Scope, compute, drilldown
from leads import services as lead_services
from leads.models import Lead
from tests.kpi.conftest import OCTOBER, at

pytestmark = pytest.mark.django_db


def figure(scope, name, period=OCTOBER):
    metric = compute(scope, period)[name]
    return metric.numerator, metric.denominator, metric.value


def rows(scope, name, part, period=OCTOBER):
    return set(drilldown(scope, period, name, part).values_list("pk", flat=True))


# ---------------------------------------------------------------- follow-up rate


@pytest.fixture
def followup_scenario(alice, bob, carol, mike, lead, call_log, price_reason):
    """Eleven leads around October; the letters say what each tests."""
    leads = {}
    # L1 September, first called in October: carried over, first call (alice).
    leads["L1"] = lead(alice, at(9, 20, 10))
    call_log(alice, leads["L1"], at(10, 3, 10))
    # L2 received at 23:59:59 on 30 September, never called: carried over.
    leads["L2"] = lead(alice, at(9, 30, 23, 59, 59))
    # L3 called in September: not carried over; its October call is no first call.
    leads["L3"] = lead(alice, at(9, 15))
    call_log(alice, leads["L3"], at(9, 16))
    call_log(alice, leads["L3"], at(10, 7))
    # L4 never called, defeated before October: not open at the start.
    leads["L4"] = lead(alice, at(9, 10))
    lead_services.lead_defeat(actor=mike, lead=leads["L4"], reason=price_reason)
    Lead.objects.filter(pk=leads["L4"].pk).update(defeated_at=at(9, 25))
    # L5 received at 00:00:00 on 1 October (still 30 September in UTC), first call (bob).
    leads["L5"] = lead(bob, at(10, 1, 0, 0, 0))
    call_log(bob, leads["L5"], at(10, 1, 0, 30))
    # L6 received at 23:59:59 on 31 October, not called: received.
    leads["L6"] = lead(bob, at(10, 31, 23, 59, 59))
    # L7 received and called in November: nowhere in October.
    leads["L7"] = lead(bob, at(11, 1, 0, 0, 0))
    call_log(bob, leads["L7"], at(11, 1, 0, 5))
    # L8 carol's lead, first called by alice: carol's denominator, alice's numerator.
    leads["L8"] = lead(carol, at(10, 5))
    call_log(alice, leads["L8"], at(10, 6))
    # L9 never called, defeated on 10 October: open at the start, carried over.
    leads["L9"] = lead(alice, at(9, 25))
    lead_services.lead_defeat(actor=mike, lead=leads["L9"], reason=price_reason)
    Lead.objects.filter(pk=leads["L9"].pk).update(defeated_at=at(10, 10))
    # L10 first called at 23:59:59 on 30 September: not carried over.
    leads["L10"] = lead(alice, at(9, 26))
    call_log(alice, leads["L10"], at(9, 30, 23, 59, 59))
    # L11 first called at 00:00:00 on 1 October, by bob: carried over, bob's first call.
    leads["L11"] = lead(alice, at(9, 26))
    call_log(bob, leads["L11"], at(10, 1, 0, 0, 0))
    return leads


def test_followup_rate_per_store_team_and_agent(
    followup_scenario, store_a, team_a1, team_a2, alice, bob, carol
):
    # Store: carried over L1 L2 L9 L11 (4) + received L5 L6 L8 (3) = 7;
    # first calls in October L1 L5 L8 L11 = 4; 4 / 7 = 57.142… → 57.14 %.
    assert figure(Scope("store", store_a.pk), "followup_rate") == (4, 7, Decimal("57.14"))
    # alice owns L1 L2 L9 L11 (carried over) = 4; she first-called L1 and L8 = 2 → 50 %.
    assert figure(Scope("agent", alice.pk), "followup_rate") == (2, 4, Decimal("50.00"))
    # bob owns L5 L6 = 2; he first-called L5 and L11 = 2 → 100 %.
    assert figure(Scope("agent", bob.pk), "followup_rate") == (2, 2, Decimal("100.00"))
    # carol owns L8 = 1; she called nobody → 0 %.
    assert figure(Scope("agent", carol.pk), "followup_rate") == (0, 1, Decimal("0.00"))
    # Team A1 (alice + bob): 4 / 6 = 66.666… → 66.67 %; team A2 is carol.
    assert figure(Scope("team", team_a1.pk), "followup_rate") == (4, 6, Decimal("66.67"))
    assert figure(Scope("team", team_a2.pk), "followup_rate") == (0, 1, Decimal("0.00"))


def test_followup_rate_drills_down_to_its_leads_and_calls(followup_scenario, store_a):
    leads = followup_scenario
    store = Scope("store", store_a.pk)
    expected = {leads[k].pk for k in ("L1", "L2", "L9", "L11", "L5", "L6", "L8")}
    assert rows(store, "followup_rate", "denominator") == expected
    first_calls = drilldown(store, OCTOBER, "followup_rate", "numerator")
    expected_leads = {leads[k].pk for k in ("L1", "L5", "L8", "L11")}
    assert set(first_calls.values_list("lead", flat=True)) == expected_leads
    assert first_calls.count() == 4


def test_november_counts_what_october_left(followup_scenario, store_a, bob):
    leads = followup_scenario
    november = Period.month(2026, 11)
    # Carried into November: open leads received before 1 November, not called
    # before it: L2 and L6; L9 was defeated in October (before the start).
    # Received in November: L7. First calls in November: L7 → 1 / 3 = 33.33 %.
    store = Scope("store", store_a.pk)
    assert figure(store, "followup_rate", november) == (1, 3, Decimal("33.33"))
    expected = {leads[k].pk for k in ("L2", "L6", "L7")}
    assert rows(store, "followup_rate", "denominator", november) == expected


# ---------------------------------------------------------------- 48-hour compliance


def test_48_hour_compliance_by_deadline_month(alice, bob, store_a, lead, call_log):
    def manufacturer(owner, received):
        return lead(owner, received, source="manufacturer")

    # M1 issued 29 Sep 20:00 → due 1 Oct 20:00 (October); called 19:59 → met.
    m1 = manufacturer(alice, at(9, 29, 20))
    call_log(alice, m1, at(10, 1, 19, 59))
    # M2 issued 1 Oct 12:00 → due 3 Oct 12:00; called at 12:00:00 exactly → met.
    m2 = manufacturer(alice, at(10, 1, 12))
    call_log(alice, m2, at(10, 3, 12))
    # M3 issued 10 Oct 12:00 → due 12 Oct 12:00; called a minute late → missed.
    m3 = manufacturer(bob, at(10, 10, 12))
    call_log(bob, m3, at(10, 12, 12, 1))
    # M4 issued 29 Oct 23:59:59 → due 31 Oct 23:59:59 (October); never called.
    m4 = manufacturer(bob, at(10, 29, 23, 59, 59))
    # M5 issued 30 Oct 00:00 → due 1 Nov 00:00: November's, not October's.
    manufacturer(alice, at(10, 30, 0, 0, 0))
    # M6 issued 28 Sep 09:00 → due 30 Sep 09:00: September's.
    manufacturer(alice, at(9, 28, 9))
    # A web lead and a low-intent handover have no 48-hour rule.
    lead(alice, at(10, 2))
    lead(alice, at(10, 3), source="low_intent")

    store = Scope("store", store_a.pk)
    # Due in October: M1 M2 M3 M4 = 4; met M1 M2 = 2 → 50 %.
    assert figure(store, "sla_48h_compliance") == (2, 4, Decimal("50.00"))
    assert figure(Scope("agent", alice.pk), "sla_48h_compliance") == (2, 2, Decimal("100.00"))
    assert figure(Scope("agent", bob.pk), "sla_48h_compliance") == (0, 2, Decimal("0.00"))
    assert rows(store, "sla_48h_compliance", "denominator") == {m1.pk, m2.pk, m3.pk, m4.pk}
    assert rows(store, "sla_48h_compliance", "numerator") == {m1.pk, m2.pk}


def test_the_sweep_and_the_kpi_agree_a_call_at_the_deadline_is_in_time(alice, lead, call_log):
    """DESIGN §2 "within 48 hours": a call at 48:00:00 exactly is in time for
    both the KPI (``sla_met_at <= first_contact_due``) and the SLA sweep (a
    breach is a call after the deadline, or none once it has passed)."""
    issued = at(10, 10, 9)
    due = issued + timedelta(hours=48)
    exactly, second_late, never = (lead(alice, issued, source="manufacturer") for _ in range(3))
    assert exactly.first_contact_due == due
    call_log(alice, exactly, due)
    call_log(alice, second_late, due + timedelta(seconds=1))

    store = Scope("store", alice.store_id)
    assert rows(store, "sla_48h_compliance", "numerator") == {exactly.pk}
    assert figure(store, "sla_48h_compliance") == (1, 3, Decimal("33.33"))
    # At the deadline itself nothing is late yet; a second later both are.
    assert sla.sweep_breaches(now=due) == 0
    assert sla.sweep_breaches(now=due + timedelta(seconds=1)) == 2
    breached = set(SlaBreach.objects.values_list("lead_id", flat=True))
    assert breached == {second_late.pk, never.pk}


# ---------------------------------------------------------------- 30-day conversion


def test_conversion_within_30_days_of_receipt(alice, bob, carol, store_a, lead, deal, envision):
    # K1 received 1 Oct 00:00, ordered 20 Oct → converted.
    k1 = lead(alice, at(10, 1, 0, 0, 0))
    deal(k1, envision, at(10, 20))
    # K2 received 10 Oct 12:00, ordered 9 Nov 12:00: exactly 30 × 24 h → converted.
    k2 = lead(bob, at(10, 10, 12))
    deal(k2, envision, at(11, 9, 12))
    # K3 received 10 Oct 12:00, ordered 9 Nov 12:00:01: a second late → not converted.
    k3 = lead(bob, at(10, 10, 12))
    deal(k3, envision, at(11, 9, 12, 0, 1))
    # K4 received 5 Oct, delivered 3 Nov without an order (29 days) → converted.
    k4 = lead(carol, at(10, 5))
    deal(k4, envision, at(11, 3), stage="delivered")
    # K5 received 31 Oct 23:59:59, no deal.
    k5 = lead(alice, at(10, 31, 23, 59, 59))
    # K6 received 30 Sep 23:59:59, ordered 2 Oct: a September lead.
    k6 = lead(alice, at(9, 30, 23, 59, 59))
    deal(k6, envision, at(10, 2))
    # K7 ordered then delivered: one lead, converted once.
    k7 = lead(alice, at(10, 15))
    deal(k7, envision, at(10, 16))
    deal(k7, envision, at(10, 30), stage="delivered")

    store = Scope("store", store_a.pk)
    # Received in October: K1 K2 K3 K4 K5 K7 = 6; converted K1 K2 K4 K7 = 4 → 66.67 %.
    assert figure(store, "conversion_30d") == (4, 6, Decimal("66.67"))
    # alice: K1 K5 K7, converted K1 K7 → 2 / 3 = 66.67 %; bob 1 / 2; carol 1 / 1.
    assert figure(Scope("agent", alice.pk), "conversion_30d") == (2, 3, Decimal("66.67"))
    assert figure(Scope("agent", bob.pk), "conversion_30d") == (1, 2, Decimal("50.00"))
    assert figure(Scope("agent", carol.pk), "conversion_30d") == (1, 1, Decimal("100.00"))
    assert rows(store, "conversion_30d", "numerator") == {k1.pk, k2.pk, k4.pk, k7.pk}
    expected = {k1.pk, k2.pk, k3.pk, k4.pk, k5.pk, k7.pk}
    assert rows(store, "conversion_30d", "denominator") == expected


# ---------------------------------------------------------------- counts and empty bases


def test_new_leads_and_valid_a_cards(alice, store_a, lead, gl8):
    lead(alice, at(10, 1, 0, 0, 0))  # full name, model: a valid A-card
    lead(alice, at(10, 2), name="王先生")  # a form of address, not a full name
    lead(alice, at(10, 3), intended_model=None)  # no intended model
    lead(alice, at(9, 30, 23, 59, 59))  # September
    store = Scope("store", store_a.pk)
    figures = compute(store, OCTOBER)
    assert (figures["new_leads"].value, figures["new_a_cards"].value) == (3, 1)
    # The figure's rule is LeadQuerySet.valid_a_cards(): the same leads.
    october = Lead.objects.filter(received_at__gte=OCTOBER.start_at, received_at__lt=OCTOBER.end_at)
    assert rows(store, "new_a_cards", "numerator") == set(
        october.valid_a_cards().values_list("pk", flat=True)
    )


def test_zero_denominators_are_null(dave, store_b):
    figures = compute(Scope("store", store_b.pk), OCTOBER)
    for name in (
        "followup_rate",
        "invite_to_store_rate",
        "sla_48h_compliance",
        "card_creation_rate",
        "return_visit_rate",
        "test_drive_rate",
        "conversion_30d",
        "sales_completion",
        "answered_in_time_rate",
        "inbound_calls_per_agent_day",
    ):
        assert figures[name].denominator == 0, name
        assert figures[name].value is None, name
    assert figures["deals"].value == 0
