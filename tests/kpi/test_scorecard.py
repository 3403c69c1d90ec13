"""Scorecard arithmetic (seed 003's rule on seed 000's card), the weighted
total, the pay and the commission, the default card, the card's writes, and
the pages' scoping. Every expected figure is worked by hand in a comment.

"1 %" is a percentage point for a rate and a percent of the target for a
count (``kpi.scorecard``)."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from kpi import scorecard as cards
from kpi import services
from kpi.metrics import COUNT, PERCENT, Period, Scope
from kpi.models import ScorecardItem, ScorecardRole, ScorecardSettings, UnscoredItems
from telephony import reviews
from tests.kpi.conftest import OCTOBER, at
from tests.telephony.test_reviews import full_scores, media, recording_of  # noqa: F401

D = Decimal
PAGE = reverse("kpi:scorecard")
SETTINGS_PAGE = reverse("kpi:scorecard-settings")


def rule(**overrides) -> ScorecardSettings:
    """The defaults (slopes 1.3 / 0.3, cap 150, floor 0), unsaved."""
    return ScorecardSettings(**overrides)


# ---------------------------------------------------------------- item scores


def test_at_target_scores_100():
    assert cards.item_score(D("90"), D("90"), rule()) == D("100.00")
    assert cards.item_score(20, D("20"), rule(), unit=COUNT) == D("100.00")


@pytest.mark.parametrize(
    ("actual", "target", "score"),
    [
        # Above: +1.3 per percentage point.
        ("91", "90", "101.30"),  # 100 + 1 × 1.3
        ("95", "90", "106.50"),  # 100 + 5 × 1.3
        ("33", "23", "113.00"),  # 100 + 10 × 1.3
        # Below: −0.3 per percentage point.
        ("89", "90", "99.70"),  # 100 − 1 × 0.3
        ("80", "90", "97.00"),  # 100 − 10 × 0.3
        ("0", "13", "96.10"),  # 100 − 13 × 0.3
        # Between whole points: linear.
        ("23.5", "23", "100.65"),  # 100 + 0.5 × 1.3
        ("66.67", "100", "90.00"),  # 100 − 33.33 × 0.3 = 90.001
        ("22.25", "23", "99.78"),  # 100 − 0.75 × 0.3 = 99.775, half up
    ],
)
def test_a_rate_moves_1_3_per_point_above_and_0_3_below(actual, target, score):
    assert cards.item_score(D(actual), D(target), rule()) == D(score)


def test_a_count_moves_per_percent_of_its_target():
    # 25 deals on 20: +25 % of the target → 100 + 25 × 1.3 = 132.50.
    assert cards.item_score(25, D(20), rule(), unit=COUNT) == D("132.50")
    # 15 on 20: −25 % → 100 − 25 × 0.3 = 92.50.
    assert cards.item_score(15, D(20), rule(), unit=COUNT) == D("92.50")
    # 21 on 30: −30 % → 91.00; per-day figures are counts too.
    assert cards.item_score(D("21"), D(30), rule(), unit="per_day") == D("91.00")
    with pytest.raises(ValueError, match="above 0"):
        cards.item_score(3, D(0), rule(), unit=COUNT)


def test_caps_and_floor():
    # 150 % on 100 %: 100 + 50 × 1.3 = 165 → capped at 150.
    assert cards.item_score(D(150), D(100), rule()) == D("150.00")
    # A lower cap bites sooner: 100 + 10 × 1.3 = 113 → 110.
    assert cards.item_score(D(100), D(90), rule(cap_max=D(110))) == D("110.00")
    # Slope 2 below: 20 % on 90 % → 100 − 70 × 2 = −40 → floor 0.
    assert cards.item_score(D(20), D(90), rule(slope_below=D(2))) == D("0.00")
    # … or floor 60.
    assert cards.item_score(D(20), D(90), rule(slope_below=D(2), floor=D(60))) == D("60.00")
    # The default slope hardly reaches the floor: 0 % on 100 % → 70.
    assert cards.item_score(D(0), D(100), rule()) == D("70.00")


def test_other_slopes_are_settings():
    # Slopes 2 / 1: 95 on 90 → 110; 85 on 90 → 95.
    settings = rule(slope_above=D(2), slope_below=D(1))
    assert cards.item_score(D(95), D(90), settings) == D("110.00")
    assert cards.item_score(D(85), D(90), settings) == D("95.00")


def test_no_actual_no_score():
    assert cards.item_score(None, D(90), rule()) is None


# ---------------------------------------------------------------- weighted total and pay


def _result(metric, weight, score):
    item = ScorecardItem(metric=metric, weight=D(weight), target=D(0))
    return cards.ItemResult(item=item, label=metric, unit=PERCENT, metric=None, actual=None,
                            score=None if score is None else D(score))  # fmt: skip


def test_weighted_total_and_pay():
    results = [
        _result("meetings_on_time", 20, "100.00"),  # 100 × 20 % = 20.00
        _result("card_creation_rate", 30, "106.50"),  # 106.5 × 30 % = 31.95
        _result("sales_completion", 50, "97.00"),  # 97 × 50 % = 48.50
    ]
    total = cards.weigh(results, rule())
    assert [r.weighted for r in results] == [D("20.00"), D("31.95"), D("48.50")]
    assert total == D("100.45")  # 20 + 31.95 + 48.5
    # 4000 × 100.45 ÷ 100 = 4018.00
    assert cards.performance_pay(total, rule()) == D("4018.00")
    assert cards.performance_pay(None, rule()) is None
    # Another base: 3000 × 100.45 ÷ 100 = 3013.50
    assert cards.performance_pay(total, rule(monthly_performance_base=D(3000))) == D("3013.50")


def test_half_a_cent_rounds_up_everywhere():
    """Half up (ROUND_HALF_UP), not to even: an exact half cent always goes up."""
    # 100 − 33.35 × 0.3 = 89.995 → 90.00
    assert cards.item_score(D("66.65"), D("100"), rule()) == D("90.00")
    # 100 − 0.05 × 0.3 = 99.985 → 99.99 (to even would give 99.98)
    assert cards.item_score(D("89.95"), D("90"), rule()) == D("99.99")
    # 100 + 0.05 × 1.3 = 100.065 → 100.07 (to even: 100.06)
    assert cards.item_score(D("90.05"), D("90"), rule()) == D("100.07")
    # Weighted: 100.65 × 10 ÷ 100 = 10.065 → 10.07; 100.25 × 90 ÷ 100 = 90.225 → 90.23.
    results = [_result("test_drive_rate", 10, "100.65"), _result("deals", 90, "100.25")]
    assert cards.weigh(results, rule()) == D("100.30")  # the sum of the rounded figures
    assert [r.weighted for r in results] == [D("10.07"), D("90.23")]
    # Pay: 1001 × 100.50 ÷ 100 = 1006.005 → 1006.01 (to even: 1006.00)
    pay_rule = rule(monthly_performance_base=D(1001))
    assert cards.performance_pay(D("100.50"), pay_rule) == D("1006.01")
    # 1 × 2.50 ÷ 100 = 0.025 → 0.03 (to even: 0.02)
    assert cards.performance_pay(D("2.50"), rule(monthly_performance_base=D(1))) == D("0.03")


def test_an_item_with_nothing_to_divide_by_is_left_out_or_zero():
    def card():
        return [
            _result("meetings_on_time", 20, "100.00"),
            _result("test_drive_rate", 30, None),  # no visits
            _result("sales_completion", 50, "97.00"),
        ]

    # Left out: the others weigh 20 + 50 = 70 → 100 × 20/70 = 28.57,
    # 97 × 50/70 = 69.29; total 97.86.
    results = card()
    assert cards.weigh(results, rule()) == D("97.86")
    assert [r.weighted for r in results] == [D("28.57"), None, D("69.29")]
    # As zero: 20 + 0 + 48.5 = 68.50.
    results = card()
    assert cards.weigh(results, rule(unscored_items=UnscoredItems.ZERO)) == D("68.50")
    assert results[1].weighted == D("0.00")
    # Nothing scored: no total, no pay.
    assert cards.weigh([_result("test_drive_rate", 100, None)], rule()) is None


# ---------------------------------------------------------------- the default card


def test_the_store_gets_seed_000s_card_on_first_use(store_a, store_b):
    assert not ScorecardItem.objects.exists()
    settings = cards.settings_for(store_a)
    assert (settings.slope_above, settings.slope_below) == (D("1.3"), D("0.3"))
    assert (settings.base_pay, settings.monthly_performance_base) == (D(800), D(4000))
    assert (settings.quarterly_performance_base, settings.commission_per_unit) == (D(1000), D(50))
    assert settings.category_prerequisite == D(90)
    items = list(ScorecardItem.objects.filter(store=store_a).order_by("order"))
    assert [(i.metric, i.weight, i.target) for i in items] == [
        ("meetings_on_time", D(20), D(100)),
        ("card_creation_rate", D(10), D(90)),
        ("return_visit_rate", D(10), D(23)),
        ("invite_to_store_rate", D(10), D(22)),
        ("test_drive_rate", D(10), D(50)),
        ("conversion_30d", D(10), D(13)),
        ("sales_completion", D(30), D(100)),
    ]
    assert {i.role for i in items} == {ScorecardRole.SUPERVISOR}
    assert sum(i.weight for i in items) == 100
    # Once: a second use, or a store that removed items, gets nothing new.
    ScorecardItem.objects.filter(store=store_a, metric="test_drive_rate").delete()
    assert cards.settings_for(store_a) == settings
    assert ScorecardItem.objects.filter(store=store_a).count() == 6
    assert not ScorecardItem.objects.filter(store=store_b).exists()


# ---------------------------------------------------------------- writes


def item(metric, weight, target, **fields):
    return {"metric": metric, "weight": D(weight), "target": D(target), **fields}


def test_weights_of_the_active_items_sum_to_100(mike, store_a):
    with pytest.raises(ValidationError) as exc:
        cards.scorecard_items_save(
            actor=mike,
            store=store_a,
            role=ScorecardRole.AGENT,
            items=[item("deals", 60, 10), item("followup_rate", 30, 95)],
        )
    assert "90%" in exc.value.message_dict["items"][0]
    # An inactive item's weight does not count.
    saved = cards.scorecard_items_save(
        actor=mike,
        store=store_a,
        role=ScorecardRole.AGENT,
        items=[
            item("deals", 60, 10),
            item("followup_rate", 40, 95),
            item("test_drive_rate", 50, 30, active=False),
        ],
    )
    assert len(saved) == 3
    assert saved[0].history.first().history_user == mike


def test_item_rows_are_checked_one_by_one(mike, store_a):
    with pytest.raises(ValidationError) as exc:
        cards.scorecard_items_save(
            actor=mike,
            store=store_a,
            role=ScorecardRole.AGENT,
            items=[
                item("deals", 50, 0),  # a count target of 0: no "1 %" of it
                item("nonsense", 10, 1),
                item("followup_rate", 25, 95),
                item("followup_rate", 25, 90),
            ],
        )
    errors = exc.value.message_dict
    assert set(errors) == {"row-0-target", "row-1-metric", "row-3-metric"}


def test_items_are_edited_in_place_and_can_swap(mike, store_a):
    first = cards.scorecard_items_save(
        actor=mike,
        store=store_a,
        role=ScorecardRole.AGENT,
        items=[item("deals", 60, 10), item("followup_rate", 40, 95)],
    )
    # Swap the figures of the two rows (the unique constraint holds throughout).
    second = cards.scorecard_items_save(
        actor=mike,
        store=store_a,
        role=ScorecardRole.AGENT,
        items=[
            item("followup_rate", 60, 95, id=first[0].pk),
            item("deals", 40, 10, id=first[1].pk),
        ],
    )
    assert [i.pk for i in second] == [i.pk for i in first]
    cards.scorecard_items_save(
        actor=mike, store=store_a, role=ScorecardRole.AGENT, items=[item("deals", 100, 8)]
    )
    assert list(
        ScorecardItem.objects.filter(store=store_a, role="agent").values_list("metric", "weight")
    ) == [("deals", D(100))]


def test_only_a_manager_of_the_store_edits_the_card(sue, mary, mike, store_a):
    for actor in (sue, mary):
        with pytest.raises(PermissionDenied):
            cards.scorecard_items_save(
                actor=actor, store=store_a, role="agent", items=[item("deals", 100, 8)]
            )
        with pytest.raises(PermissionDenied):
            cards.scorecard_settings_update(actor=actor, store=store_a, slope_above=D(2))
    settings = cards.scorecard_settings_update(
        actor=mike, store=store_a, slope_above=D(2), category_deductions={"SUV": "300"}
    )
    assert settings.slope_above == D(2)
    assert settings.history.first().history_user == mike
    with pytest.raises(ValidationError) as exc:
        cards.scorecard_settings_update(actor=mike, store=store_a, cap_max=D(90))
    assert "cap_max" in exc.value.message_dict


# ---------------------------------------------------------------- the card and the commission


@pytest.fixture
def october(mike, sue, alice, bob, team_a1, lead, deal, visit, envision, gl8):
    """Team A1 in October: targets SUV 2 (alice) + MPV 1 (bob) = 3 units;
    alice sells 2 SUVs; alice's 2 visits, 1 with a test drive."""
    services.targets_set(
        actor=sue,
        team=team_a1,
        month=date(2026, 10, 1),
        units={(alice.pk, "SUV"): 2, (bob.pk, "MPV"): 1},
    )
    first, second = lead(alice, at(10, 2)), lead(alice, at(10, 3))
    visit(alice, first, at(10, 5), test_drive=True)
    visit(alice, second, at(10, 6))
    deal(first, envision, at(10, 10))
    deal(second, envision, at(10, 11))
    cards.scorecard_items_save(
        actor=mike,
        store=alice.store,
        role=ScorecardRole.SUPERVISOR,
        items=[item("sales_completion", 60, 100), item("test_drive_rate", 40, 50)],
    )
    return first, second


def test_the_supervisors_card_scores_the_team(sue, team_a1, october):
    card = cards.scorecard(Scope("team", team_a1.pk), OCTOBER)
    sales, test_drive = card.items
    # Sales completion 2 ÷ 3 = 66.67 % → 100 − 33.33 × 0.3 = 90.00; × 60 % = 54.00.
    assert (sales.actual, sales.score, sales.weighted) == (D("66.67"), D("90.00"), D("54.00"))
    # Test drives 1 ÷ 2 = 50 % = target → 100; × 40 % = 40.00.
    assert (test_drive.actual, test_drive.score, test_drive.weighted) == (
        D("50.00"),
        D("100.00"),
        D("40.00"),
    )
    assert card.total == D("94.00")
    assert card.pay == D("3760.00")  # 4000 × 94 ÷ 100
    c = card.commission
    # Below 100 %: 2/3 × 50 = 33.33 per unit; 2 units → 66.666… → 66.67.
    assert (c.sold, c.planned, c.completion) == (2, 3, D("66.67"))
    assert (c.rate, c.units, c.gross) == (D("33.33"), 2, D("66.67"))
    # SUV 2/2 = 100 % meets 90 %; MPV 0/1 misses → the default 100 withheld.
    assert [(k.category, k.met, k.deduction) for k in c.categories] == [
        ("MPV", False, D("100.00")),
        ("SUV", True, D("0.00")),
    ]
    assert not c.prerequisite_met
    assert (c.deductions, c.net) == (D("100.00"), D("-33.33"))
    # 800 + 3760 − 33.33 = 4526.67
    assert card.month_pay == D("4526.67")
    # The supervisor's own card is the team's.
    assert cards.scorecard(Scope("agent", sue.pk), OCTOBER).total == D("94.00")


def test_no_commission_below_100_percent_when_not_prorated(mike, team_a1, october, store_a):
    cards.scorecard_settings_update(actor=mike, store=store_a, commission_prorated=False)
    c = cards.scorecard(Scope("team", team_a1.pk), OCTOBER).commission
    assert (c.rate, c.gross, c.net) == (D("0.00"), D("0.00"), D("-100.00"))


def test_commission_in_full_at_100_percent_with_the_prerequisite_met(
    mike, bob, team_a1, lead, deal, gl8, october
):
    deal(lead(bob, at(10, 4)), gl8, at(10, 12))
    c = cards.scorecard(Scope("team", team_a1.pk), OCTOBER).commission
    # 3 ÷ 3 = 100 % → 50 per unit × 3 = 150; SUV 2/2 and MPV 1/1 met.
    assert (c.completion, c.rate, c.gross) == (D("100.00"), D("50.00"), D("150.00"))
    assert c.prerequisite_met
    assert (c.deductions, c.net) == (D("0.00"), D("150.00"))


def test_the_90_percent_prerequisite_and_deduction_by_importance(
    mike, sue, alice, bob, team_a1, store_a, lead, deal, envision, gl8
):
    # Targets SUV 10, MPV 1; deals SUV 9, MPV 2: the team is at 11/11 = 100 %.
    services.targets_set(
        actor=sue,
        team=team_a1,
        month=date(2026, 10, 1),
        units={(alice.pk, "SUV"): 10, (bob.pk, "MPV"): 1},
    )
    suv_lead, mpv_lead = lead(alice, at(10, 2)), lead(bob, at(10, 2))
    for day in range(1, 10):
        deal(suv_lead, envision, at(10, day + 1))
    deal(mpv_lead, gl8, at(10, 3))
    deal(mpv_lead, gl8, at(10, 4))
    team = Scope("team", team_a1.pk)
    settings = cards.settings_for(store_a)
    c = cards.commission(team, OCTOBER, settings)
    # 9/10 = 90 % exactly meets the 90 % prerequisite: 11 × 50 = 550.
    assert (c.gross, c.prerequisite_met, c.net) == (D("550.00"), True, D("550.00"))
    # Required 95 %: SUV misses; SUV is important (300 withheld).
    settings = cards.scorecard_settings_update(
        actor=mike,
        store=store_a,
        category_prerequisite=D(95),
        category_deductions={"SUV": "300", "MPV": "200"},
    )
    c = cards.commission(team, OCTOBER, settings)
    assert [(k.category, k.completion, k.met, k.deduction) for k in c.categories] == [
        ("MPV", D("200.00"), True, D("0.00")),
        ("SUV", D("90.00"), False, D("300.00")),
    ]
    assert (c.gross, c.deductions, c.net) == (D("550.00"), D("300.00"), D("250.00"))


def test_no_target_no_commission(team_a1, alice, lead, deal, envision, store_a):
    deal(lead(alice, at(10, 2)), envision, at(10, 3))
    c = cards.commission(Scope("team", team_a1.pk), OCTOBER, cards.settings_for(store_a))
    # A deal but no 任务分配表: no completion, no commission, nothing to check.
    assert (c.sold, c.planned, c.completion, c.gross, c.categories) == (1, 0, None, D("0.00"), [])


def test_an_agents_card_scores_them_and_pays_their_units(mike, alice, store_a, october):
    cards.scorecard_items_save(
        actor=mike,
        store=store_a,
        role=ScorecardRole.AGENT,
        items=[item("deals", 70, 4), item("sla_48h_compliance", 30, 100)],
    )
    card = cards.scorecard(Scope("agent", alice.pk), OCTOBER)
    assert card.role == ScorecardRole.AGENT
    deals_item, sla = card.items
    # 2 deals on a target of 4: −50 % of the target → 100 − 50 × 0.3 = 85.00.
    assert (deals_item.actual, deals_item.score) == (2, D("85.00"))
    # No manufacturer lead was due: no actual, left out; deals weigh 100 %.
    assert (sla.actual, sla.score, sla.weighted) == (None, None, None)
    assert (deals_item.weighted, card.total) == (D("85.00"), D("85.00"))
    # The rule is the team's (2/3 → 33.33 per unit), paid on alice's 2 units.
    assert (card.commission.units, card.commission.gross) == (2, D("66.67"))


def test_the_review_score_is_an_item(mike, sue, alice, store_a):
    checklist = reviews.checklist_for(store_a)
    for minus in (0, 10):  # 100 % and 90 %
        reviews.review_save(
            actor=sue, recording=recording_of(alice), scores=full_scores(checklist, minus)
        )
    cards.scorecard_items_save(
        actor=mike,
        store=store_a,
        role=ScorecardRole.AGENT,
        items=[item(cards.REVIEW_SCORE, 100, 90)],
    )
    card = cards.scorecard(Scope("agent", alice.pk), Period.current_month())
    # Mean 95 % on 90 %: +5 points → 106.50.
    (review,) = card.items
    assert (review.actual, review.score, card.total) == (D("95.00"), D("106.50"), D("106.50"))


# ---------------------------------------------------------------- pages


def test_the_page_shows_the_card_with_drilldown_links(web, sue, team_a1, october):
    response = web(sue).get(PAGE, {"month": "2026-10"})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('data-testid="scorecard-row"') == 2
    drill = reverse("kpi:drill", args=["sales_completion", "numerator"])
    assert f"{drill}?s=team%3A{team_a1.pk}&amp;month=2026-10" in html
    assert reverse("kpi:drill", args=["test_drive_rate", "denominator"]) in html
    assert 'data-testid="scorecard-total">94.00<' in html
    assert "3,760.00" in html
    assert "4,526.67" in html


@pytest.mark.parametrize(
    ("who", "card", "status"),
    [
        ("alice", "agent:alice", 200),
        ("alice", "agent:bob", 404),  # not hers
        ("alice", "team:a1", 403),  # a team's card is above an agent's level
        ("sue", "agent:alice", 200),  # her team's member
        ("sue", "agent:carol", 404),  # another team
        ("sue", "team:a1", 200),
        ("sue", "team:a2", 404),
        ("mike", "team:a2", 200),
        ("mary", "team:a1", 404),  # store A is not hers
        ("mary", "agent:alice", 404),
        ("root", "team:a1", 200),
        ("mike", "store:a", 404),  # a card is a team's or a member's
        ("root", "agent:root", 404),  # no store, no card
        ("connie", "agent:connie", 403),  # consultants have no card
    ],
)
def test_who_sees_which_card(web, everyone, team_a1, team_a2, store_a, who, card, status):
    kind, _sep, name = card.partition(":")
    ids = {"a1": team_a1.pk, "a2": team_a2.pk, "a": store_a.pk}
    id_ = everyone[name].pk if kind == "agent" else ids[name]
    response = web(everyone[who]).get(PAGE, {"s": f"{kind}:{id_}", "month": "2026-10"})
    assert response.status_code == status


def test_default_card_is_ones_own(web, alice, sue, mike, team_a1):
    assert web(alice).get(PAGE).context["scope_key"] == f"agent:{alice.pk}"
    assert web(sue).get(PAGE).context["scope_key"] == f"team:{team_a1.pk}"
    assert web(mike).get(PAGE).context["scope_key"] == f"team:{team_a1.pk}"


def test_navigation_offers_the_scorecard(web, everyone):
    for name in ("alice", "sue", "mike", "connie"):
        html = web(everyone[name]).get(reverse("kpi:index")).content.decode()
        assert (f'href="{PAGE}"' in html) is (name != "connie"), name


def test_card_query_count_is_bounded(
    web, sue, mike, alice, team_a1, october, lead, deal, envision, django_assert_max_num_queries
):
    client = web(sue)
    client.get(PAGE, {"month": "2026-10"})  # settings exist from the fixture
    with django_assert_max_num_queries(40):
        assert client.get(PAGE, {"month": "2026-10"}).status_code == 200
    for day in range(1, 8):
        deal(lead(alice, at(10, day)), envision, at(10, day + 1))
    with django_assert_max_num_queries(40):
        assert client.get(PAGE, {"month": "2026-10"}).status_code == 200
    manager = web(mike)  # signing in (django-axes logs it) is not the page's cost
    with django_assert_max_num_queries(20):
        assert manager.get(SETTINGS_PAGE).status_code == 200


def _items_post(store, rows, role="supervisor"):
    data = {
        "form": "items",
        "store": store.pk,
        "role": role,
        "items-TOTAL_FORMS": len(rows),
        "items-INITIAL_FORMS": 0,
        "items-MIN_NUM_FORMS": 0,
        "items-MAX_NUM_FORMS": 1000,
    }
    for index, row in enumerate(rows):
        for name, value in row.items():
            data[f"items-{index}-{name}"] = value
    return data


def test_manager_edits_the_card_weights_must_sum_to_100(web, mike, store_a):
    client = web(mike)
    rows = [
        {"metric": "deals", "weight": "60", "target": "10", "order": 1, "active": "on"},
        {"metric": "followup_rate", "weight": "30", "target": "95", "order": 2, "active": "on"},
        # An extra row left as rendered: ignored.
        {"metric": "", "weight": "", "target": "", "order": "0", "active": "on"},
    ]
    response = client.post(SETTINGS_PAGE, _items_post(store_a, rows, "agent"))
    assert response.status_code == 200
    assert "90%" in response.content.decode()
    assert 'data-testid="scorecard-items-error"' in response.content.decode()
    rows[1]["weight"] = "40"
    rows[0]["target"] = "0"  # a count target of 0: refused on its row
    response = client.post(SETTINGS_PAGE, _items_post(store_a, rows, "agent"))
    assert response.status_code == 200
    assert response.context["formset"].forms[0].errors["target"]
    rows[0]["target"] = "10"
    response = client.post(SETTINGS_PAGE, _items_post(store_a, rows, "agent"))
    assert response.status_code == 302
    assert list(
        ScorecardItem.objects.filter(store=store_a, role="agent").values_list("metric", "weight")
    ) == [("deals", D(60)), ("followup_rate", D(40))]


def test_manager_sets_the_rule_and_the_deductions(web, mike, store_a):
    client = web(mike)
    page = client.get(SETTINGS_PAGE)
    assert page.status_code == 200
    data = {
        f"settings-{k}": v
        for k, v in page.context["form"].initial.items()
        if k in cards.SETTINGS_FIELDS and k != "category_deductions"
    }
    data.update(
        {
            "form": "settings",
            "store": store_a.pk,
            "settings-slope_above": "1.5",
            "settings-category_deductions": "SUV: 300\nMPV：200",
            "settings-commission_prorated": "on",
        }
    )
    response = client.post(SETTINGS_PAGE, data)
    assert response.status_code == 302, response.context["form"].errors
    settings = ScorecardSettings.objects.get(store=store_a)
    assert settings.slope_above == D("1.5")
    assert settings.category_deductions == {"SUV": "300", "MPV": "200"}
    data["settings-category_deductions"] = "SUV three hundred"
    response = client.post(SETTINGS_PAGE, data)
    assert response.status_code == 200
    assert response.context["form"].errors["category_deductions"]


def test_settings_are_the_managers(web, sue, mary, store_a):
    assert web(sue).get(SETTINGS_PAGE).status_code == 403
    assert web(mary).get(SETTINGS_PAGE, {"store": store_a.pk}).status_code == 404


def test_the_admin_shows_scorecards_with_history_but_changes_none(web, root, store_a):
    cards.settings_for(store_a)  # the default card
    client = web(root)
    for model in ("scorecardsettings", "scorecarditem"):
        listing = client.get(f"/admin/kpi/{model}/")
        assert listing.status_code == 200
        assert store_a.name in listing.content.decode()
        assert client.get(f"/admin/kpi/{model}/add/").status_code == 403
    item = ScorecardItem.objects.filter(store=store_a).first()
    page = client.get(f"/admin/kpi/scorecarditem/{item.pk}/change/")
    assert page.status_code == 200
    assert 'name="weight"' not in page.content.decode()  # read only
    assert client.get(f"/admin/kpi/scorecarditem/{item.pk}/history/").status_code == 200
