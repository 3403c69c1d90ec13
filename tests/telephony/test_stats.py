"""Call statistics (issue 5 §6): calls per agent and local day in and out,
talk time, answered within the store's setting; scoped like every figure."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from dcc.timeutils import local_day_start
from followups import services as followup_services
from followups.models import FollowupPolicy
from telephony import stats
from telephony.models import Direction
from telephony.views.stats import period_from
from tests.factories import StaffFactory
from tests.telephony.builders import local, make_call

MARCH = {"since": local_day_start(date(2024, 3, 1)), "until": local_day_start(date(2024, 4, 1))}
IN, OUT, INTERNAL = Direction.INBOUND, Direction.OUTBOUND, Direction.INTERNAL


@pytest.fixture
def march(alice, bob, carol, dave, store_a):
    """The calls of March 2024; the expected figures are worked out by hand
    in the tests below."""
    # alice, 4 March: rings of 5, 15 (the setting: counts) and 16 s (does
    # not), one missed, one outbound connected and one not, one internal.
    make_call(alice, local(4, 9, 0), ring=5, billsec=100)
    make_call(alice, local(4, 9, 10), ring=15, billsec=200)
    make_call(alice, local(4, 9, 20), ring=16, billsec=50)
    make_call(alice, local(4, 9, 30), answered=False)
    make_call(alice, local(4, 10, 0), direction=OUT, ring=8, billsec=300)
    make_call(alice, local(4, 10, 10), direction=OUT, answered=False)
    make_call(alice, local(4, 11, 0), direction=INTERNAL, ring=2, billsec=30)
    # alice, 5 March: one outbound, one first-time caller.
    make_call(alice, local(5, 14, 0), direction=OUT, ring=6, billsec=120)
    make_call(alice, local(5, 15, 0), ring=3, billsec=30, new_caller=True)
    # bob, 4 March: two outbound calls nobody answered.
    make_call(bob, local(4, 9, 0), direction=OUT, answered=False)
    make_call(bob, local(4, 9, 5), direction=OUT, answered=False)
    # carol (team A2), 6 March.
    make_call(carol, local(6, 10, 0), ring=10, billsec=60)
    # An extension nobody had: store A's, no agent.
    make_call(None, local(6, 11, 0), store=store_a, answered=False)
    # dave, store B.
    make_call(dave, local(4, 10, 0), ring=16, billsec=90)
    # Outside March: 29 February and 1 April (local).
    make_call(alice, local(29, 23, 59, 59, month=2), billsec=10)
    make_call(alice, local(1, 0, 0, 0, month=4), billsec=10)


def _by_agent(rows):
    return {row.agent.username if row.agent else None: row for row in rows}


def test_figures_per_agent_for_the_manager(mike, march):
    rows = stats.call_stats(mike, **MARCH)
    assert [row.agent.username if row.agent else None for row in rows] == [
        "alice",
        "bob",
        "carol",
        None,
    ]
    alice = _by_agent(rows)["alice"]
    assert alice.agent_days == 2
    assert alice.inbound == 5
    assert alice.inbound_answered == 4
    assert alice.inbound_in_time == 3  # 5 s, 15 s and 3 s; not 16 s, not the missed one
    assert alice.outbound == 3
    assert alice.outbound_answered == 2
    assert alice.internal == 1
    assert alice.talk_seconds == 100 + 200 + 50 + 300 + 120 + 30  # 800: not the internal 30
    assert alice.answered == 6
    assert alice.average_talk_seconds == 133  # 800 / 6 = 133.3
    assert alice.talk_time == "0:13:20"
    assert alice.average_talk_time == "0:02:13"
    assert alice.new_callers == 1
    assert alice.answer_rate == Decimal("80.00")  # 4 / 5
    assert alice.in_time_rate == Decimal("60.00")  # 3 / 5
    assert alice.connect_rate == Decimal("66.67")  # 2 / 3
    assert alice.inbound_per_day == Decimal("2.5")
    assert alice.outbound_per_day == Decimal("1.5")


def test_zero_denominators_are_none_not_zero(mike, march):
    bob = _by_agent(stats.call_stats(mike, **MARCH))["bob"]
    assert bob.inbound == 0
    assert bob.answer_rate is None
    assert bob.in_time_rate is None
    assert bob.outbound == 2
    assert bob.connect_rate == Decimal("0.00")  # 0 of 2: a real zero
    assert bob.talk_seconds == 0
    assert bob.average_talk_seconds is None
    assert bob.average_talk_time == ""
    empty = stats.total([])
    assert empty.answer_rate is None
    assert empty.inbound_per_day is None


def test_totals_add_up_the_rows(mike, march):
    rows = stats.call_stats(mike, **MARCH)
    total = stats.total(rows)
    assert total.inbound == 5 + 0 + 1 + 1
    assert total.inbound_in_time == 3 + 0 + 1 + 0
    assert total.outbound == 3 + 2
    assert total.talk_seconds == 800 + 60
    # Calls per person per day: alice 2 days, bob 1, carol 1; the unknown
    # extension is nobody's day.
    assert total.agent_days == 4
    assert total.in_time_rate == Decimal("57.14")  # 4 / 7


def test_agents_without_calls_have_a_zero_row(mike, march, store_a, team_a1):
    quiet = StaffFactory(username="quiet", store=store_a, team=team_a1, extension="8010")
    row = _by_agent(stats.call_stats(mike, **MARCH))["quiet"]
    assert row.agent == quiet
    assert row.customer_calls == 0
    assert row.in_time_rate is None


def test_per_day_for_one_agent(mike, alice, march):
    days = stats.call_stats(mike, **MARCH, by="day", agent=alice)
    assert [row.day for row in days] == [date(2024, 3, 4), date(2024, 3, 5)]
    fourth, fifth = days
    assert (fourth.inbound, fourth.inbound_in_time, fourth.outbound, fourth.internal) == (
        4,
        2,
        2,
        1,
    )
    assert fourth.talk_seconds == 650
    assert (fifth.inbound, fifth.outbound, fifth.talk_seconds, fifth.new_callers) == (1, 1, 150, 1)


def test_per_agent_and_day(mike, march):
    rows = stats.call_stats(mike, **MARCH, by="agent_day")
    keys = [(row.agent.username if row.agent else None, row.day) for row in rows]
    assert keys == [
        ("alice", date(2024, 3, 4)),
        ("alice", date(2024, 3, 5)),
        ("bob", date(2024, 3, 4)),
        ("carol", date(2024, 3, 6)),
        (None, date(2024, 3, 6)),
    ]
    assert rows[2].outbound == 2


def test_days_are_local_at_midnight(mike, alice):
    # 23:59:59 on 4 March and 00:00:00 on 5 March in Shanghai are both
    # 4 March in UTC (15:59:59 and 16:00:00).
    make_call(alice, local(4, 23, 59, 59), billsec=10)
    make_call(alice, local(5, 0, 0, 0), direction=OUT, billsec=20)
    days = stats.call_stats(mike, **MARCH, by="day")
    assert [(row.day, row.inbound, row.outbound) for row in days] == [
        (date(2024, 3, 4), 1, 0),
        (date(2024, 3, 5), 0, 1),
    ]
    # A period starting on 5 March (local midnight) leaves the 23:59:59 call out.
    fifth = stats.call_stats(
        mike, since=local_day_start(date(2024, 3, 5)), until=local_day_start(date(2024, 3, 6))
    )
    row = _by_agent(fifth)["alice"]
    assert (row.inbound, row.outbound, row.agent_days) == (0, 1, 1)


def test_the_stores_own_setting_decides_in_time(root, mike, alice, dave, store_a, store_b, march):
    # Store A raises its setting to 20 s: the 16 s ring counts now. Store B
    # has no policy row: the default 15 s, so dave's 16 s does not.
    FollowupPolicy.objects.update_or_create(store=store_a, defaults={"answer_within_seconds": 20})
    FollowupPolicy.objects.filter(store=store_b).delete()
    rows = _by_agent(stats.call_stats(root, **MARCH))
    assert rows["alice"].inbound_in_time == 4
    assert rows["dave"].inbound_answered == 1
    assert rows["dave"].inbound_in_time == 0
    settings = {log.store.code: log.answer_within_seconds for log in stats.store_logs(root)}
    assert settings == {"A01": 20, "B01": 15}
    # Down to 5 s: only the 5 s and 3 s rings.
    FollowupPolicy.objects.filter(store=store_a).update(answer_within_seconds=5)
    assert _by_agent(stats.call_stats(mike, **MARCH))["alice"].inbound_in_time == 2


def test_scope_supervisor_team_manager_store(sue, mike, mary, root, march, store_b):
    assert [r.agent.username for r in stats.call_stats(sue, **MARCH)] == ["alice", "bob"]
    assert stats.total(stats.call_stats(sue, **MARCH)).inbound == 5
    assert "carol" in _by_agent(stats.call_stats(mike, **MARCH))
    assert "dave" not in _by_agent(stats.call_stats(mike, **MARCH))
    assert list(_by_agent(stats.call_stats(mary, **MARCH))) == ["dave"]
    assert set(_by_agent(stats.call_stats(root, **MARCH))) == {
        "alice",
        "bob",
        "carol",
        "dave",
        None,
    }
    only_b = stats.call_stats(root, **MARCH, store=store_b)
    assert list(_by_agent(only_b)) == ["dave"]


# ---------------------------------------------------------------- periods


@pytest.mark.parametrize(
    ("params", "first", "last"),
    [
        ({}, date(2024, 3, 1), date(2024, 3, 13)),
        ({"period": "today"}, date(2024, 3, 13), date(2024, 3, 13)),
        ({"period": "yesterday"}, date(2024, 3, 12), date(2024, 3, 12)),
        ({"period": "week"}, date(2024, 3, 11), date(2024, 3, 13)),  # Monday
        ({"period": "last_month"}, date(2024, 2, 1), date(2024, 2, 29)),
        (
            {"period": "custom", "start": "2024-01-05", "end": "2024-01-02"},
            date(2024, 1, 2),
            date(2024, 1, 5),
        ),
        ({"period": "custom", "start": "2024-02-30"}, date(2024, 3, 1), date(2024, 3, 13)),
        ({"period": "nonsense"}, date(2024, 3, 1), date(2024, 3, 13)),
    ],
)
def test_periods(params, first, last):
    period = period_from(params, date(2024, 3, 13))
    assert (period.first, period.last) == (first, last)
    assert period.until - period.since == timedelta(days=(last - first).days + 1)


# ---------------------------------------------------------------- the page


def _page(client, *, htmx=False, **params):
    headers = {"HX-Request": "true"} if htmx else {}
    return client.get(
        reverse("telephony:call-stats"), {"period": "custom", **params}, headers=headers
    )


MARCH_PARAMS = {"start": "2024-03-01", "end": "2024-03-31"}


def test_page_shows_agents_totals_and_the_setting(web, mike, march):
    response = _page(web(mike), **MARCH_PARAMS)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('data-testid="stats-row"') == 4
    assert 'data-agent="carol"' in html
    assert 'data-testid="stats-total"' in html
    assert 'data-testid="answer-setting"' in html
    rows = response.context["rows"]
    assert _by_agent(rows)["alice"].in_time_rate == Decimal("60.00")
    assert response.context["answer_within"] == 15
    assert "60.00%" in html


def test_a_click_on_an_agent_brings_their_days(web, sue, alice, march):
    client = web(sue)
    response = _page(client, agent=alice.pk, htmx=True, **MARCH_PARAMS)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert html.count('data-testid="stats-day"') == 2
    assert 'data-day="2024-03-04"' in html
    # Without htmx: the whole page, with the days under the table.
    html = _page(client, agent=alice.pk, **MARCH_PARAMS).content.decode()
    assert 'data-testid="stats-row"' in html
    assert 'data-testid="stats-days"' in html


def test_page_scope(web, alice, sue, mike, mary, carol, dave, march):
    # Agents may not read the statistics.
    assert _page(web(alice)).status_code == 403
    html = _page(web(sue), **MARCH_PARAMS).content.decode()
    assert 'data-agent="alice"' in html
    assert 'data-agent="carol"' not in html
    # Another team's agent, another store's agent: 404.
    assert _page(web(sue), agent=carol.pk).status_code == 404
    assert _page(web(mike), agent=dave.pk).status_code == 404
    html = _page(web(mary), **MARCH_PARAMS).content.decode()
    assert 'data-agent="alice"' not in html
    assert 'data-agent="dave"' in html
    assert _page(web(mary), agent=alice.pk).status_code == 404


def test_an_unknown_store_is_404(web, root, mike, store_b, march):
    assert _page(web(root), store=store_b.pk, **MARCH_PARAMS).status_code == 200
    assert _page(web(mike), store=store_b.pk).status_code == 404
    assert _page(web(mike), store="x").status_code == 404


def test_page_queries_stay_bounded(
    web, root, store_a, team_a1, march, django_assert_max_num_queries
):
    client = web(root)
    _page(client, **MARCH_PARAMS)  # warm the session
    # 9: the statistics' 7, the missed-call call-back figures' one and the
    # layout's badge of defeats awaiting approval.
    with django_assert_max_num_queries(9):
        assert _page(client, **MARCH_PARAMS).status_code == 200
    # Ten more agents with calls: the same queries.
    for n in range(10):
        agent = StaffFactory(store=store_a, team=team_a1, extension=f"81{n:02d}")
        make_call(agent, local(7, 9, n))
        make_call(agent, local(8, 9, n), direction=OUT)
    with django_assert_max_num_queries(9):
        response = _page(client, **MARCH_PARAMS)
    assert len(response.context["rows"]) == 15
    with django_assert_max_num_queries(8):
        assert _page(client, agent=agent.pk, htmx=True).status_code == 200


# ---------------------------------------------------------------- store rules


def test_store_rules_page_sets_the_two_telephony_settings(web, mike, store_a, alice, march):
    client = web(mike)
    html = client.get(reverse("followups:settings")).content.decode()
    assert 'name="answer_within_seconds"' in html
    assert 'name="verify_window_minutes"' in html
    policy = FollowupPolicy.objects.for_store(store_a)
    data = {
        "store": store_a.pk,
        "manufacturer_first_contact_hours": store_a.manufacturer_first_contact_hours,
        "transfer_first_contact_days": store_a.transfer_first_contact_days,
        **{name: getattr(policy, name) for name in followup_services.POLICY_FIELDS},
        "answer_within_seconds": 20,
        "verify_window_minutes": 45,
    }
    response = client.post(reverse("followups:settings"), data)
    assert response.status_code == 302
    policy = FollowupPolicy.objects.for_store(store_a)
    assert policy.answer_within_seconds == 20
    assert policy.verify_window_minutes == 45
    # The statistics follow the new setting: the 16 s ring is in time now.
    assert _by_agent(stats.call_stats(mike, **MARCH))["alice"].inbound_in_time == 4
    # Out of range: a field error, nothing saved.
    response = client.post(reverse("followups:settings"), {**data, "answer_within_seconds": 0})
    assert response.status_code == 200
    assert "is-invalid" in response.content.decode()
    policy = FollowupPolicy.objects.for_store(store_a)
    assert policy.answer_within_seconds == 20
