"""Verified follow-ups (issue 5 §7): a call logged as a follow-up is
verified by a PBX call between the agent's extension and the lead's number
near it; what the log cannot speak for is never counted against anyone."""

from datetime import date, datetime, timedelta

import pytest
from django.urls import reverse

from dcc import services as dcc_services
from dcc.models import User
from dcc.roles import Role
from dcc.timeutils import local_day_start
from followups.models import Channel, FollowupPolicy, Result
from followups.services import followup_log
from telephony import stats
from telephony.models import Direction, ExtensionAssignment
from tests.telephony.builders import cdr_line, import_lines, local, make_call

MARCH = {"since": local_day_start(date(2024, 3, 1)), "until": local_day_start(date(2024, 4, 1))}
RECEIVED = local(1, 8, 0, month=2)


@pytest.fixture
def lead_a(make_lead, mike, alice):
    return make_lead(mike, phone="13812345678", owner=alice, received_at=RECEIVED)


@pytest.fixture
def lead_b(make_lead, mike, bob):
    return make_lead(mike, phone="13812345679", owner=bob, received_at=RECEIVED)


@pytest.fixture
def lead_c(make_lead, mike, carol):
    return make_lead(mike, phone="13812345670", owner=carol, received_at=RECEIVED)


@pytest.fixture
def lead_d(make_lead, mary, dave, store_b):
    return make_lead(mary, phone="13812345671", owner=dave, received_at=RECEIVED)


def log(agent, lead, at, result=Result.REACHED, actor=None, note=""):
    """A manager enters the call for the agent (any past time is allowed)."""
    actor = actor or User.objects.get(store=lead.store, role=Role.MANAGER)
    followup = followup_log(
        actor=actor,
        agent=agent,
        lead=lead,
        channel=Channel.CALL,
        result=result,
        occurred_at=at,
        note=note,
    )
    followup.refresh_from_db()
    return followup


def test_answered_call_within_the_window_verifies(mike, alice, lead_a):
    # Answered 10:00:05, talked until 10:02:05; the window is 30 minutes.
    call = make_call(alice, local(4, 10, 0), direction=Direction.OUTBOUND, billsec=120, lead=lead_a)
    assert log(alice, lead_a, local(4, 10, 32)).verified_call == call  # 30 min after the end
    assert log(alice, lead_a, local(4, 9, 30)).verified_call == call  # 30 min before the start
    assert log(alice, lead_a, local(4, 10, 33)).verified_call is None  # 30 min 55 s after
    assert log(alice, lead_a, local(4, 9, 29)).verified_call is None


def test_a_long_call_verifies_a_log_entered_at_its_end(mike, alice, lead_a):
    # 45 minutes of talk: logged at the end, 50 minutes after it started.
    call = make_call(
        alice, local(4, 10, 0), direction=Direction.OUTBOUND, billsec=45 * 60, lead=lead_a
    )
    assert log(alice, lead_a, local(4, 10, 50)).verified_call == call


def test_the_stores_window_decides(mike, alice, lead_a, store_a):
    FollowupPolicy.objects.update_or_create(store=store_a, defaults={"verify_window_minutes": 60})
    call = make_call(alice, local(4, 10, 0), direction=Direction.OUTBOUND, billsec=120, lead=lead_a)
    assert log(alice, lead_a, local(4, 11, 0)).verified_call == call
    assert log(alice, lead_a, local(4, 11, 3)).verified_call is None


def test_spoken_to_needs_an_answered_call_no_answer_any_attempt(mike, alice, lead_a):
    attempt = make_call(
        alice, local(4, 10, 0), direction=Direction.OUTBOUND, answered=False, lead=lead_a
    )
    assert log(alice, lead_a, local(4, 10, 5), Result.NO_ANSWER).verified_call == attempt
    # "Reached" with only an unanswered attempt in the log: not verified.
    assert log(alice, lead_a, local(4, 10, 6), Result.REACHED).verified_call is None


def test_another_agents_call_or_another_leads_call_does_not_verify(
    mike, alice, bob, lead_a, lead_b
):
    make_call(bob, local(4, 10, 0), direction=Direction.OUTBOUND, lead=lead_a)
    make_call(alice, local(4, 10, 0), direction=Direction.OUTBOUND, lead=lead_b)
    assert log(alice, lead_a, local(4, 10, 5)).verified_call is None


def test_the_extension_belongs_to_whoever_had_it_then(sue, mike, alice, bob, lead_a):
    # alice had 8001 until 1 March, then it went to bob.
    dcc_services.staff_update(actor=mike, staff=alice, extension="8009")
    dcc_services.staff_update(actor=mike, staff=bob, extension="8001")
    moved_at = local(1, 0, 0)
    ExtensionAssignment.objects.filter(extension="8001", staff=alice).update(valid_to=moved_at)
    ExtensionAssignment.objects.filter(extension="8001", staff=bob).update(valid_from=moved_at)
    # alice logs calls to the lead on 29 February and on 4 March, both from
    # 8001 in the PBX log; the import comes after.
    before = log(alice, lead_a, local(29, 10, 5, month=2))
    after = log(alice, lead_a, local(4, 10, 5))
    import_lines(
        sue,
        alice.store,
        _answered("8001", "2024-02-29 10:00:00", "1.1"),
        _answered("8001", "2024-03-04 10:00:00", "1.2"),
    )
    before.refresh_from_db()
    after.refresh_from_db()
    assert before.verified_call.uniqueid == "1.1"
    # On 4 March 8001 was bob's: alice's logged call has no call of hers.
    assert after.verified_call is None
    assert after.verified_call_id is None


def _answered(extension, start, uid, number="13812345678"):
    """An outbound call answered after 4 s, two minutes long in all."""
    started = datetime.fromisoformat(start)
    answer, end = started + timedelta(seconds=4), started + timedelta(minutes=2)
    return cdr_line(extension, number, start, f"{answer:%Y-%m-%d %H:%M:%S}",
                    f"{end:%Y-%m-%d %H:%M:%S}", "ANSWERED", uid)  # fmt: skip


def test_a_call_logged_after_the_import_is_verified_when_logged(sue, mike, alice, lead_a):
    import_lines(sue, alice.store, _answered("8001", "2024-03-04 10:00:00", "2.1"))
    followup = log(alice, lead_a, local(4, 10, 10))
    assert followup.verified_call.uniqueid == "2.1"


# ---------------------------------------------------------------- the summary


@pytest.fixture
def march(mike, alice, bob, carol, lead_a, lead_b, lead_c, store_a):
    """Store A's call log reaches from 3 March 09:00 to 20 March 18:00.

    alice: 2 verified, 2 unverified, 1 after the log, 1 before it.
    bob: 1 verified. carol (team A2): 1 unverified.
    """
    make_call(alice, local(3, 9, 0), direction=Direction.INTERNAL)  # the log's first call
    make_call(alice, local(20, 18, 0), direction=Direction.INTERNAL)  # and its last
    make_call(alice, local(4, 10, 0), direction=Direction.OUTBOUND, lead=lead_a)
    make_call(alice, local(5, 10, 0), direction=Direction.OUTBOUND, answered=False, lead=lead_a)
    make_call(bob, local(5, 11, 0), direction=Direction.OUTBOUND, lead=lead_b)
    followups = {
        "verified": [
            log(alice, lead_a, local(4, 10, 5)),
            log(alice, lead_a, local(5, 10, 5), Result.NO_ANSWER),
            log(bob, lead_b, local(5, 11, 5)),
        ],
        "unverified": [
            log(alice, lead_a, local(6, 15, 0), note="客户说考虑一下"),
            log(alice, lead_a, local(20, 17, 59)),
            log(carol, lead_c, local(7, 9, 0)),
        ],
        "not_yet": [log(alice, lead_a, local(20, 18, 1))],
        "before": [log(alice, lead_a, local(2, 9, 0))],
    }
    # Not a call: not counted at all.
    followup_log(
        actor=mike, agent=alice, lead=lead_a, channel=Channel.WECHAT, result=Result.REACHED,
        occurred_at=local(8, 9, 0),
    )  # fmt: skip
    return followups


def _rows(user, **kwargs):
    return {row.agent.username: row for row in stats.verification_summary(user, **MARCH, **kwargs)}


def test_summary_per_agent(mike, march):
    rows = _rows(mike)
    alice = rows["alice"]
    assert alice.logged == 6
    assert alice.verified == 2
    assert alice.unverified == 2
    assert alice.not_yet_checkable == 1
    assert alice.before_log == 1
    assert alice.no_log == 0
    assert str(alice.verified_rate) == "50.00"
    assert rows["bob"].verified_rate == 100
    assert rows["carol"].unverified == 1
    assert str(rows["carol"].verified_rate) == "0.00"
    total = stats.verification_total(list(rows.values()))
    assert (total.logged, total.verified, total.unverified) == (8, 3, 3)


def test_a_later_import_turns_not_yet_checkable_into_checked(sue, mike, alice, march):
    # The next file reaches 21 March. Its call at 20 March 18:02 proves the
    # calls logged at 18:01 and at 17:59 (within 30 minutes of both).
    import_lines(
        sue,
        alice.store,
        _answered("8001", "2024-03-20 18:02:00", "9.1"),
        _answered("8001", "2024-03-21 09:00:00", "9.2", number="13900000001"),
    )
    alice_row = _rows(mike)["alice"]
    assert alice_row.not_yet_checkable == 0
    assert alice_row.verified == 4
    assert alice_row.unverified == 1


def test_the_unverified_list(mike, alice, march):
    listed = list(stats.unverified_followups(mike, **MARCH, agent=alice))
    assert listed == [march["unverified"][1], march["unverified"][0]]  # newest first
    everyone = list(stats.unverified_followups(mike, **MARCH))
    assert set(everyone) == set(march["unverified"])


def test_a_store_without_a_call_log_flags_nobody(mary, dave, lead_d, march):
    log(dave, lead_d, local(6, 10, 0))
    row = _rows(mary)["dave"]
    assert row.logged == 1
    assert row.no_log == 1
    assert row.unverified == 0
    assert row.verified_rate is None
    assert row.only_without_log
    assert list(stats.unverified_followups(mary, **MARCH)) == []


def test_summary_scope(sue, mike, mary, march):
    assert set(_rows(sue)) == {"alice", "bob"}
    assert set(_rows(mike)) == {"alice", "bob", "carol"}
    assert _rows(mary) == {}
    assert list(stats.unverified_followups(mary, **MARCH)) == []
    assert {f.agent.username for f in stats.unverified_followups(sue, **MARCH)} == {"alice"}


# ---------------------------------------------------------------- the page


def _page(client, *, htmx=False, **params):
    headers = {"HX-Request": "true"} if htmx else {}
    query = {"period": "custom", "start": "2024-03-01", "end": "2024-03-31", **params}
    return client.get(reverse("telephony:verification"), query, headers=headers)


def test_page_explains_and_counts(web, sue, march):
    response = _page(web(sue))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="verification-explained"' in html
    assert response.context["window"] == 30
    assert html.count('data-testid="verification-row"') == 2
    assert 'data-agent="carol"' not in html
    assert 'data-testid="log-reach"' in html


def test_a_click_brings_the_agents_unverified_calls(web, sue, alice, march, lead_a):
    response = _page(web(sue), agent=alice.pk, htmx=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert html.count('data-testid="unverified-row"') == 2
    assert reverse("desk:lead", args=[lead_a.pk]) in html
    assert "客户说考虑一下" in html


def test_page_scope(web, alice, sue, mike, mary, carol, march):
    # Agents may not read it; a supervisor another team's agent, a manager
    # another store's: 404.
    assert _page(web(alice)).status_code == 403
    assert _page(web(sue), agent=carol.pk).status_code == 404
    assert _page(web(mike), agent=carol.pk, htmx=True).status_code == 200
    html = _page(web(mary)).content.decode()
    assert 'data-agent="alice"' not in html
    assert _page(web(mary), agent=alice.pk).status_code == 404


def test_no_call_log_is_said(web, mary, dave, lead_d):
    log(dave, lead_d, local(6, 10, 0))
    html = _page(web(mary)).content.decode()
    assert 'data-testid="no-call-log"' in html
    assert 'data-col="no_log"' in html


def test_page_queries_stay_bounded(web, mike, alice, lead_a, march, django_assert_max_num_queries):
    client = web(mike)
    _page(client)
    # 8: the layout's badges include the defeats awaiting approval.
    with django_assert_max_num_queries(8):
        assert _page(client).status_code == 200
    for day in range(21, 28):
        log(alice, lead_a, local(day, 10, 0))
    with django_assert_max_num_queries(8):
        assert _page(client).status_code == 200
    with django_assert_max_num_queries(9):
        response = _page(client, agent=alice.pk, htmx=True)
    # The week's new ones are after the latest imported call: not listed.
    assert len(response.context["page"]) == 2
