"""Closed months' figures stored and read back (kpi.monthly, issue 20 point
3): a stored month is served without computing it again and equals a fresh
computation; every kind of late data (a late call log, a back-entered
follow-up, a back-dated visit or deal, a lead given to someone else, a new
lead of the A-card window, a target or meeting of a past month) makes the
month computed again; the current month is never stored; a change that
commits while a page computes never leaves stale figures behind.

October 2026 is a closed month for these tests (today is later); the
receivers run after the writer's commit, hence
``django_capture_on_commit_callbacks(execute=True)`` around each change.
"""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kpi import dashboards, monthly
from kpi import services as kpi_services
from kpi.metrics import Period, Scope, compute
from kpi.metrics.figures import compute_counts, metrics_from
from kpi.models import MeetingKind, MonthlyInvalidation, MonthlyResult
from leads import pool
from leads import services as leads
from leads.models import Lead, PoolReason
from tests.kpi.conftest import OCTOBER, at
from tests.kpi.test_calls_as_they_happened import direct, import_lines

pytestmark = pytest.mark.django_db


def _served(scope, period=OCTOBER):
    return monthly.kpis(scope, [period])[period.start]


def _is_stored_and_fresh(scope, django_assert_num_queries, period=OCTOBER):
    """The month comes from its stored row (two queries: the month's number
    and the row) and equals what compute answers now."""
    with django_assert_num_queries(2):
        served = _served(scope, period)
    assert served == compute_counts(scope, period)
    assert metrics_from(served) == compute(scope, period)
    return served


def test_a_closed_month_is_stored_once_and_served_without_computing(
    october_activity, store_a, alice, django_assert_num_queries
):
    assert OCTOBER.end < timezone.localdate()
    for scope in (Scope("store", store_a.pk), Scope("agent", alice.pk), Scope("group")):
        with CaptureQueriesContext(connection) as first:
            counts = _served(scope)
        assert len(first) > 5  # computed, then stored
        assert counts == compute_counts(scope, OCTOBER)
        assert _is_stored_and_fresh(scope, django_assert_num_queries) == counts
    assert MonthlyResult.objects.filter(month=OCTOBER.start).count() == 3


def test_the_current_month_and_other_periods_are_never_stored(october_activity, store_a):
    scope = Scope("store", store_a.pk)
    today = timezone.localdate()
    this_month = Period.current_month(today)
    part = Period(OCTOBER.start, OCTOBER.start + timedelta(days=9))
    for period in (this_month, part):
        assert _served(scope, period) == compute_counts(scope, period)
    assert not MonthlyResult.objects.exists()


LATE = {}


def late(fn):
    LATE[fn.__name__] = fn
    return fn


@late
def call_log_imported_late(ctx):
    # A call-log file of October arrives in December: alice's extension.
    number = "+8613912340000"
    import_lines(ctx["store"], direct(number, at(10, 29, 15), "late-1", ext=ctx["alice"].extension))


@late
def followup_entered_after_the_fact(ctx):
    ctx["call_log"](ctx["alice"], ctx["fresh"], at(10, 28, 10))


@late
def visit_back_dated(ctx):
    ctx["visit"](ctx["alice"], ctx["fresh"], at(10, 29, 10), test_drive=True)


@late
def deal_back_dated(ctx):
    ctx["deal"](ctx["fresh"], ctx["envision"], at(10, 30, 10))


@late
def lead_given_to_someone_else(ctx):
    leads.lead_assign(actor=ctx["mike"], lead=ctx["fresh"], owner=ctx["bob"], reason="休假")


@late
def lead_sent_to_the_pool(ctx):
    # The pool (公海) takes the lead from alice: its October work is nobody's.
    pool.send_to_pool([ctx["fresh"].pk], reason=PoolReason.FIRST_CONTACT)


@late
def leads_merged(ctx):
    # bob's October lead, found to be alice's customer, merged into hers.
    leads.lead_merge(actor=ctx["mike"], keep=ctx["fresh"], merge=ctx["other"], reason="同一客户")


@late
def lead_received_late(ctx):
    ctx["lead"](ctx["alice"], at(10, 30, 9))


@late
def target_of_a_past_month(ctx):
    kpi_services.targets_set(
        actor=ctx["mike"],
        team=ctx["team"],
        month=OCTOBER.start,
        units={(ctx["alice"].pk, ctx["envision"].category): 9},
    )


@late
def meetings_of_a_past_month(ctx):
    for kind, hour in ((MeetingKind.MORNING, 8), (MeetingKind.EVENING, 17)):
        kpi_services.meeting_record(
            actor=ctx["mike"],
            team=ctx["team"],
            kind=kind,
            held_at=at(10, 30, hour),
            attendees=[ctx["alice"]],
        )


@pytest.mark.parametrize("change", sorted(LATE))
def test_late_data_makes_the_month_computed_again(
    change,
    october_activity,
    store_a,
    team_a1,
    alice,
    bob,
    mike,
    lead,
    call_log,
    visit,
    deal,
    envision,
    django_assert_num_queries,
    django_capture_on_commit_callbacks,
):
    scopes = [Scope("store", store_a.pk), Scope("agent", alice.pk), Scope("team", team_a1.pk)]

    def run(fn):
        with django_capture_on_commit_callbacks(execute=True):
            return fn()

    ctx = {
        "store": store_a,
        "team": team_a1,
        "alice": alice,
        "bob": bob,
        "mike": mike,
        "lead": lambda *a, **k: run(lambda: lead(*a, **k)),
        "call_log": lambda *a, **k: run(lambda: call_log(*a, **k)),
        "visit": lambda *a, **k: run(lambda: visit(*a, **k)),
        "deal": lambda *a, **k: run(lambda: deal(*a, **k)),
        "envision": envision,
    }
    # An October lead of alice's, received (and announced) before the month
    # is first stored: the late data below concerns it.
    ctx["fresh"] = run(lambda: lead(alice, at(10, 27, 9)))
    ctx["other"] = run(lambda: lead(bob, at(10, 28, 9)))
    before = {scope: _served(scope) for scope in scopes}
    run(lambda: LATE[change](ctx))
    assert MonthlyInvalidation.objects.get(month=OCTOBER.start).seq >= 1
    after = {}
    for scope in scopes:
        with CaptureQueriesContext(connection) as again:
            after[scope] = _served(scope)
        assert len(again) > 2, f"{change}: {scope} served stale"
        assert after[scope] == compute_counts(scope, OCTOBER)
        _is_stored_and_fresh(scope, django_assert_num_queries)
    # The change moved October's figures (so a stale row would have shown).
    assert after != before, change


def test_work_of_today_on_an_old_lead_leaves_closed_months_stored(
    october_activity,
    store_a,
    alice,
    call_log,
    django_assert_num_queries,
    django_capture_on_commit_callbacks,
):
    scope = Scope("store", store_a.pk)
    _served(scope)
    october_lead = Lead.objects.filter(owner=alice, received_at__month=10).order_by("pk").first()
    with django_capture_on_commit_callbacks(execute=True):
        call_log(alice, october_lead, timezone.now() - timedelta(minutes=5))
    _is_stored_and_fresh(scope, django_assert_num_queries)


def test_a_change_committing_while_a_page_computes_is_not_stored_stale(
    october_activity, store_a, django_assert_num_queries
):
    """The page reads the month's number before computing; late data that
    commits meanwhile raises it, so the counts stored are never served."""
    scope = Scope("store", store_a.pk)

    def count_while_late_data_commits(todo):
        counts = {p.start: compute_counts(scope, p) for p in todo}
        monthly.invalidate(OCTOBER.start)  # the writer's receiver, after its commit
        return counts

    monthly.months(scope, [OCTOBER], monthly.KPIS_SET, count_while_late_data_commits)
    assert MonthlyResult.objects.filter(month=OCTOBER.start).exists()
    with CaptureQueriesContext(connection) as again:
        _served(scope)
    assert len(again) > 2  # computed again, not the row stored meanwhile
    _is_stored_and_fresh(scope, django_assert_num_queries)


def test_invalidating_marks_the_months_from_then_to_now_in_one_statement(
    django_assert_num_queries,
):
    today = timezone.localdate()
    with django_assert_num_queries(1):
        monthly.invalidate(date(today.year - 1, today.month, 15))
    marks = MonthlyInvalidation.objects.order_by("month")
    assert marks.count() == 13
    assert marks.first().month == date(today.year - 1, today.month, 1)
    assert marks.last().month == today.replace(day=1)
    monthly.invalidate(today - timedelta(days=today.day))  # last month on
    assert MonthlyInvalidation.objects.filter(seq=2).count() == 2


def test_the_dashboard_trend_of_closed_months_is_stored_and_equal(
    october_activity, store_a, django_assert_max_num_queries
):
    scope = Scope("store", store_a.pk)
    period = Period.month(2026, 11)
    first = dashboards.trend(scope, period)
    assert MonthlyResult.objects.filter(metric_set=monthly.TREND_SET).count() == 12
    with django_assert_max_num_queries(2):
        again = dashboards.trend(scope, period)
    assert again == first
    for row in first:
        figures = compute(scope, row["period"])
        assert row["figures"] == {name: figures[name] for name in dashboards.TREND}


def test_the_dashboard_and_kpi_page_read_a_stored_month(
    october_activity, web, mike, store_a, django_assert_max_num_queries
):
    client = web(mike)
    params = {"s": f"store:{store_a.pk}", "month": "2026-10"}
    client.get("/kpi/", {"month": "2026-09"})  # the session warmed
    with CaptureQueriesContext(connection) as cold:
        assert client.get("/kpi/", params).status_code == 200
    with CaptureQueriesContext(connection) as warm:
        assert client.get("/kpi/", params).status_code == 200
    assert len(warm) < len(cold) - 5
    with CaptureQueriesContext(connection) as cold:
        assert client.get("/kpi/dashboard/", params).status_code == 200
    with CaptureQueriesContext(connection) as warm:
        assert client.get("/kpi/dashboard/", params).status_code == 200
    assert len(warm) < len(cold) - 5


def _compared(scope, by):
    return [
        (row["scope"], row["label"], row["figures"])
        for row in dashboards.compare(scope, OCTOBER, by)
    ]


def test_the_dashboard_comparison_of_a_closed_month_is_stored_and_equal(
    october_activity,
    store_a,
    team_a1,
    alice,
    django_assert_max_num_queries,
    django_capture_on_commit_callbacks,
):
    store = Scope("store", store_a.pk)
    cases = [(store, "agent"), (store, "team"), (Scope("team", team_a1.pk), "agent")]
    first = {case: _compared(*case) for case in cases}
    assert MonthlyResult.objects.filter(metric_set__startswith="compare-").count() == 3
    for (scope, by), rows in first.items():
        # The units, the month's number and the stored row.
        with django_assert_max_num_queries(3):
            assert _compared(scope, by) == rows
        for unit, _label, figures in rows:
            fresh = compute(unit, OCTOBER)
            assert figures == {name: fresh[name] for name in dashboards.COMPARED}
    # A late call log of alice's: computed again, never served stale.
    with django_capture_on_commit_callbacks(execute=True):
        call_log_imported_late({"store": store_a, "alice": alice})
    for (scope, by), rows in first.items():
        with CaptureQueriesContext(connection) as again:
            after = _compared(scope, by)
        assert len(again) > 3
        assert after != rows
        for unit, _label, figures in after:
            fresh = compute(unit, OCTOBER)
            assert figures == {name: fresh[name] for name in dashboards.COMPARED}


def test_the_headline_first_days_of_closed_months_are_stored_and_equal(october_activity, store_a):
    # November so far (1–10) against 1–10 October and 1–10 November 2025.
    scope, today = Scope("store", store_a.pk), date(2026, 11, 10)
    november = Period.month(2026, 11)
    with CaptureQueriesContext(connection) as cold:
        first = dashboards.headline(scope, november, today=today)
    assert MonthlyResult.objects.filter(metric_set="headline:10").count() == 2
    assert not MonthlyResult.objects.filter(month=november.start).exists()
    with CaptureQueriesContext(connection) as warm:
        assert dashboards.headline(scope, november, today=today) == first
    assert len(warm) < len(cold) - 5
    october_days = compute(scope, Period(date(2026, 10, 1), date(2026, 10, 10)), today=today)
    last_year = compute(scope, Period(date(2025, 11, 1), date(2025, 11, 10)), today=today)
    current = compute(scope, november, today=today)
    for row in first:
        assert row["current"] == current[row["name"]]
        assert row["last_month"] == october_days[row["name"]]
        assert row["last_year"] == last_year[row["name"]]
    assert any(row["last_month"].numerator for row in first)


def test_a_run_of_closed_months_is_summed_from_the_stored_months(
    october_activity, store_a, alice, team_a1
):
    # September to October: the months stored, their sums equal compute of
    # the run (carried-over leads: the first month's; first-time callers:
    # counted over the run).
    run = Period(date(2026, 9, 1), OCTOBER.end)
    for scope in (
        Scope("store", store_a.pk),
        Scope("agent", alice.pk),
        Scope("team", team_a1.pk),
        Scope("group"),
    ):
        counts = _served(scope, run)
        assert counts == compute_counts(scope, run)
        assert metrics_from(counts) == compute(scope, run)
    assert MonthlyResult.objects.filter(month=date(2026, 9, 1)).count() == 4
    assert any(counts.values())
    # Not whole months, or the current month among them: computed.
    part = Period(date(2026, 9, 2), OCTOBER.end)
    assert _served(Scope("group"), part) == compute_counts(Scope("group"), part)


def test_the_dashboard_sources_of_a_closed_month_are_stored_and_moved_by_late_data(
    october_activity, store_a, alice, mike, django_capture_on_commit_callbacks
):
    from leads.models import Channel

    scope = Scope("store", store_a.pk)

    def fresh():
        return {key: dict(n) for key, n in dashboards._source_counts(scope, OCTOBER).items()}

    with CaptureQueriesContext(connection) as cold:
        first = dashboards.sources(scope, OCTOBER)
    with CaptureQueriesContext(connection) as warm:
        assert dashboards.sources(scope, OCTOBER) == first
    assert len(warm) < len(cold)
    assert MonthlyResult.objects.filter(metric_set=monthly.SOURCES_SET).count() == 3
    stored = dashboards._stored_source_counts(scope, OCTOBER, None)
    assert {key: dict(n) for key, n in stored.items()} == fresh()
    # An October lead's channel corrected in December: computed again.
    lead = Lead.objects.filter(owner=alice, received_at__month=10).order_by("pk").first()
    channel = Channel.objects.exclude(pk=lead.channel_id).first()
    with django_capture_on_commit_callbacks(execute=True):
        leads.lead_update(actor=mike, lead=lead, channel=channel)
    after = dashboards._stored_source_counts(scope, OCTOBER, None)
    assert {key: dict(n) for key, n in after.items()} == fresh()
    assert {key: dict(n) for key, n in after.items()} != {key: dict(n) for key, n in stored.items()}
