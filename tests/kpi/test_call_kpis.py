"""Call KPIs on hand-worked scenarios: the card-creation rate over first-time
inbound callers (DESIGN §3, seed 000) and call productivity (seed 001)."""

from decimal import Decimal

import pytest

from followups.models import FollowupPolicy
from kpi.metrics import Scope, compute, drilldown
from leads import services as lead_services
from telephony.models import Direction, Disposition
from tests.kpi.conftest import OCTOBER, at

pytestmark = pytest.mark.django_db

N = {
    name: f"+861390000{index:04d}"
    for index, name in enumerate(["N1", "N2", "N3", "N4", "N5", "N6", "N7", "N9", "N11", "NX"])
}


def figure(scope, name):
    metric = compute(scope, OCTOBER)[name]
    return metric.numerator, metric.denominator, metric.value


def test_card_creation_rate(alice, bob, mike, store_a, lead, pbx_call, price_reason):
    calls = {}
    # N1: first-time caller on 2 Oct, carded 5 minutes later; calls again on
    # 6 Oct (a known lead by then) and alice calls back: one caller.
    calls["N1"] = pbx_call(alice, N["N1"], at(10, 2, 10), new_caller=True)
    n1 = lead(alice, at(10, 2, 10, 5), phone=N["N1"])
    pbx_call(alice, N["N1"], at(10, 6, 10), lead=n1)
    pbx_call(alice, N["N1"], at(10, 3), direction=Direction.OUTBOUND, lead=n1)
    # N2: calls twice, both before any lead; entered as "王先生" (no full name).
    calls["N2"] = pbx_call(bob, N["N2"], at(10, 9, 10), new_caller=True)
    pbx_call(bob, N["N2"], at(10, 10, 10), new_caller=True)
    lead(bob, at(10, 10, 11), phone=N["N2"], name="王先生")
    # N3: calls at 23:00 on 31 Oct, carded 3 Nov: within 7 days of the call.
    calls["N3"] = pbx_call(alice, N["N3"], at(10, 31, 23), new_caller=True)
    lead(alice, at(11, 3), phone=N["N3"])
    # N4: calls 20 Oct, carded 20 Nov: after the month and after 7 days.
    calls["N4"] = pbx_call(alice, N["N4"], at(10, 20), new_caller=True)
    lead(alice, at(11, 20), phone=N["N4"])
    # N5: alice enters the caller during the call; the import then matches the
    # call to that lead (not flagged new_caller): still a first-time caller.
    n5 = lead(alice, at(10, 15, 10, 2), phone=N["N5"])
    calls["N5"] = pbx_call(alice, N["N5"], at(10, 15, 10), lead=n5)
    # N6: 23:59:59 on 30 September: September's caller.
    pbx_call(alice, N["N6"], at(9, 30, 23, 59, 59), new_caller=True)
    # N7: 00:00:00 on 1 November: November's caller.
    pbx_call(bob, N["N7"], at(11, 1, 0, 0, 0), new_caller=True)
    # N9: a defeated September lead calls back; a new lead is entered during
    # the call: a returning customer, not a first-time caller.
    old = lead(alice, at(9, 1), phone=N["N9"])
    lead_services.lead_defeat(actor=mike, lead=old, reason=price_reason)
    n9 = lead(alice, at(10, 11, 10, 1), phone=N["N9"])
    pbx_call(alice, N["N9"], at(10, 11, 10), lead=n9)
    # N11: carded on the day but without an intended model: no valid A-card.
    calls["N11"] = pbx_call(alice, N["N11"], at(10, 22, 9), new_caller=True)
    lead(alice, at(10, 22, 9, 10), phone=N["N11"], intended_model=None)
    # A known customer's call and an internal call are no first-time callers.
    pbx_call(alice, old.phone, at(10, 12))
    pbx_call(alice, "", at(10, 12, 13), direction=Direction.INTERNAL)

    store = Scope("store", store_a.pk)
    # First-time callers in October: N1 N2 N3 N4 N5 N11 = 6;
    # with a valid A-card: N1 N3 N5 = 3 → 50 %.
    assert figure(store, "card_creation_rate") == (3, 6, Decimal("50.00"))
    # alice answered N1 N3 N4 N5 N11: 3 / 5 = 60 %; bob N2: 0 / 1.
    assert figure(Scope("agent", alice.pk), "card_creation_rate") == (3, 5, Decimal("60.00"))
    assert figure(Scope("agent", bob.pk), "card_creation_rate") == (0, 1, Decimal("0.00"))
    # Each caller drills down to their first call of the month.
    denominator = drilldown(store, OCTOBER, "card_creation_rate", "denominator")
    assert set(denominator.values_list("pk", flat=True)) == {c.pk for c in calls.values()}
    numerator = drilldown(store, OCTOBER, "card_creation_rate", "numerator")
    expected = {calls[k].pk for k in ("N1", "N3", "N5")}
    assert set(numerator.values_list("pk", flat=True)) == expected


def test_call_productivity_and_answer_in_time(alice, bob, store_a, pbx_call):
    # alice, Monday 5 Oct: 3 inbound answered after 5, 15 and 16 s; 2 outbound.
    for ring in (5, 15, 16):
        pbx_call(alice, N["NX"], at(10, 5, 9), ring_seconds=ring)
    for _ in range(2):
        pbx_call(alice, N["NX"], at(10, 5, 10), direction=Direction.OUTBOUND)
    # alice, 6 Oct: 1 inbound never answered (0 s talk), 1 outbound.
    pbx_call(
        alice,
        N["NX"],
        at(10, 6, 9),
        disposition=Disposition.NO_ANSWER,
        ring_seconds=None,
        billsec=0,
    )
    pbx_call(alice, N["NX"], at(10, 6, 10), direction=Direction.OUTBOUND)
    # bob, 5 Oct: 1 outbound. Internal calls and other months do not count.
    pbx_call(bob, N["NX"], at(10, 5, 11), direction=Direction.OUTBOUND)
    pbx_call(alice, "", at(10, 5, 12), direction=Direction.INTERNAL)
    pbx_call(alice, N["NX"], at(9, 30, 23, 59, 59))
    pbx_call(alice, N["NX"], at(11, 1, 0, 0, 0))

    mine = compute(Scope("agent", alice.pk), OCTOBER)
    # 4 inbound and 3 outbound over 2 agent-days: 2.00 and 1.50 a day.
    assert (mine["calls_inbound"].value, mine["calls_outbound"].value) == (4, 3)
    assert mine["inbound_calls_per_agent_day"].value == Decimal("2.00")
    assert mine["outbound_calls_per_agent_day"].value == Decimal("1.50")
    # Talk: 6 answered calls × 60 s = 360 s over 2 days = 180 s a day.
    assert mine["talk_seconds_per_agent_day"].numerator == 360
    assert mine["talk_seconds_per_agent_day"].value == Decimal("180.00")
    # Answered within 15 s (the default): the 5 s and 15 s calls, of 4 → 50 %.
    answered = mine["answered_in_time_rate"]
    assert (answered.numerator, answered.denominator, answered.value) == (2, 4, Decimal("50.00"))

    store = Scope("store", store_a.pk)
    figures = compute(store, OCTOBER)
    # Store: 4 inbound, 4 outbound over 3 agent-days (alice 2, bob 1): 1.33 each.
    assert figures["inbound_calls_per_agent_day"].value == Decimal("1.33")
    assert figures["outbound_calls_per_agent_day"].value == Decimal("1.33")
    bob_figures = compute(Scope("agent", bob.pk), OCTOBER)
    assert bob_figures["answered_in_time_rate"].value is None  # no inbound call
    # The store allows 16 s: the 16 s call is in time too → 3 / 4 = 75 %.
    policy = FollowupPolicy.objects.for_store(store_a)
    policy.answer_within_seconds = 16
    policy.save()
    assert compute(store, OCTOBER)["answered_in_time_rate"].value == Decimal("75.00")
    inbound = drilldown(store, OCTOBER, "calls_inbound", "numerator")
    assert inbound.count() == 4
