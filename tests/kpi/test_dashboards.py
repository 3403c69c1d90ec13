"""Dashboards (issue 6 item 4): each aggregate on a small hand-built
scenario with its expected numbers written out (环比/同比 arithmetic, the
local month boundary, empty bases as None), every grouped figure equal to
``compute`` of its own scope, the drill-downs listing what a number counts,
scoping by role, and query counts that do not grow with the staff."""

import re
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from dcc.roles import Role
from followups.models import BreachKind, SlaBreach
from kpi import dashboards
from kpi.metrics import Period, Scope, compute
from kpi.models import MonthlyResult, Target
from leads import services as lead_services
from leads.models import Lead, Source
from telephony.models import Direction, Disposition
from tests.factories import StaffFactory
from tests.kpi.conftest import OCTOBER, at

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("kpi:dashboard")
WALLBOARD = reverse("kpi:wallboard")


def months(year, month):
    return Period.month(year, month)


# ---------------------------------------------------------------- headline


@pytest.fixture
def three_months(alice, lead, call_log):
    """Oct 2025: 5 leads, 4 called that month (one in November): 80 %.
    Sep 2026: 2 leads, both called: 100 %. Oct 2026: 4 leads, 2 called: 50 %."""
    year_before = [lead(alice, at(10, 2 + i).replace(year=2025)) for i in range(5)]
    for i, item in enumerate(year_before[:4]):
        call_log(alice, item, at(10, 10 + i).replace(year=2025))
    call_log(alice, year_before[4], at(11, 3).replace(year=2025))
    for i in range(2):
        call_log(alice, lead(alice, at(9, 3 + i)), at(9, 10 + i))
    october = [lead(alice, at(10, 2 + i)) for i in range(4)]
    call_log(alice, october[0], at(10, 8))
    call_log(alice, october[1], at(10, 9))
    return october


def test_headline_month_on_month_and_year_on_year(store_a, three_months):
    rows = {row["name"]: row for row in dashboards.headline(Scope("store", store_a.pk), OCTOBER)}
    new = rows["new_leads"]
    assert (new["current"].value, new["last_month"].value, new["last_year"].value) == (4, 2, 5)
    assert new["mom"] == dashboards.Change(2, Decimal("100.00"))
    assert new["yoy"] == dashboards.Change(-1, Decimal("-20.00"))
    rate = rows["followup_rate"]
    assert rate["current"].value == Decimal("50.00")
    assert rate["last_month"].value == Decimal("100.00")
    assert rate["last_year"].value == Decimal("80.00")
    # Points, and per cent of the earlier value: −50 pt is −50 %; −30 pt of 80 is −37.5 %.
    assert rate["mom"] == dashboards.Change(Decimal("-50.00"), Decimal("-50.00"))
    assert rate["yoy"] == dashboards.Change(Decimal("-30.00"), Decimal("-37.50"))
    # Nothing due in any month: no rate, so no change either.
    assert rows["sla_48h_compliance"]["current"].value is None
    assert rows["sla_48h_compliance"]["mom"] == dashboards.Change(None, None)
    # 0 deals against 0: a change of 0, no per cent of nothing.
    assert rows["deals"]["mom"] == dashboards.Change(0, None)


def test_previous_and_same_month_last_year():
    assert dashboards.previous_month(months(2026, 1)) == months(2025, 12)
    assert dashboards.same_month_last_year(months(2026, 10)) == months(2025, 10)
    labels = [p.month_label for p in dashboards.months_back(months(2026, 10), 12)]
    assert labels[0] == "2025-11"
    assert labels[-1] == "2026-10"


# ---------------------------------------------------------------- trend


def test_trend_months_are_local_and_equal_compute(
    store_a, alice, bob, lead, call_log, visit, deal, envision
):
    # 23:59:59 on 30 September is September's; 00:00 on 1 October October's.
    september_last = lead(alice, at(9, 30, 23, 59, 59))
    october_first = lead(bob, at(10, 1, 0, 0, 0))
    october_last = lead(alice, at(10, 31, 23, 59, 59))
    call_log(alice, september_last, at(10, 1, 0, 0, 0))
    call_log(bob, october_first, at(10, 2))
    visit(bob, october_first, at(10, 5))
    deal(october_first, envision, at(10, 6))
    deal(september_last, envision, at(9, 30, 23, 59, 59))
    scope = Scope("store", store_a.pk)
    trend = {row["label"]: row["figures"] for row in dashboards.trend(scope, OCTOBER)}
    assert len(trend) == 12
    october, september = trend["2026-10"], trend["2026-09"]
    # October: 2 first calls of (1 carried over + 2 received); 1 invited visit of 2 calls.
    assert (october["followup_rate"].numerator, october["followup_rate"].denominator) == (2, 3)
    assert october["followup_rate"].value == Decimal("66.67")
    assert october["invite_to_store_rate"].value == Decimal("50.00")
    assert october["deals"].value == 1
    assert september["deals"].value == 1
    assert september["followup_rate"].value == Decimal("0.00")
    assert september["conversion_30d"].value == Decimal("100.00")
    assert trend["2026-08"]["followup_rate"].value is None  # nothing to divide by
    for period in dashboards.months_back(OCTOBER, 12):
        expected = compute(scope, period)
        for name in dashboards.TREND:
            assert trend[period.month_label][name] == expected[name], (period, name)
    del october_last


# ---------------------------------------------------------------- comparison


@pytest.fixture
def busy_october(alice, bob, carol, sue, lead, call_log, visit, deal, envision, gl8, pbx_call):
    a1 = lead(alice, at(9, 28))  # carried over into October
    a2 = lead(alice, at(10, 3))
    b1 = lead(bob, at(10, 4))
    c1 = lead(carol, at(10, 5), source=Source.MANUFACTURER)
    lead(carol, at(10, 6))
    call_log(alice, a1, at(10, 2))
    call_log(alice, a2, at(10, 3, 13))
    call_log(bob, b1, at(10, 5))
    call_log(carol, c1, at(10, 5, 13))
    visit(alice, a2, at(10, 8), test_drive=True)
    deal(a2, envision, at(10, 9))
    deal(b1, gl8, at(10, 12))
    for member, units in ((alice, 2), (bob, 4)):
        Target.objects.create(
            store=member.store, member=member, month=date(2026, 10, 1), category="SUV", units=units
        )
    pbx_call(alice, "+8613700000001", at(10, 2), lead=a1)
    pbx_call(carol, "+8613700000002", at(10, 6), direction=Direction.OUTBOUND)
    return a1, a2, b1, c1


def test_compare_agents_and_teams_equal_compute(
    store_a, team_a1, team_a2, alice, bob, carol, sue, busy_october
):
    scope = Scope("store", store_a.pk)
    agents = {row["label"]: row for row in dashboards.compare(scope, OCTOBER, "agent")}
    assert set(agents) == {
        alice.display_name,
        bob.display_name,
        carol.display_name,
        sue.display_name,
    }
    alice_row = agents[alice.display_name]["figures"]
    # Alice: 2 first calls of (1 carried over + 1 received); 1 invited visit; 1 deal of 2 units.
    assert alice_row["followup_rate"].value == Decimal("100.00")
    assert alice_row["invite_to_store_rate"].value == Decimal("50.00")
    assert alice_row["deals"].value == 1
    assert alice_row["sales_completion"].value == Decimal("50.00")
    assert alice_row["calls_inbound"].value == 1
    carol_row = agents[carol.display_name]["figures"]
    assert carol_row["followup_rate"].value == Decimal("50.00")
    assert carol_row["sales_completion"].value is None  # no target
    assert carol_row["calls_outbound"].value == 1
    teams = {row["scope"].id: row for row in dashboards.compare(scope, OCTOBER, "team")}
    assert set(teams) == {team_a1.pk, team_a2.pk}
    assert teams[team_a1.pk]["figures"]["deals"].value == 2
    assert teams[team_a1.pk]["figures"]["sales_completion"].value == Decimal("33.33")
    for rows in (agents.values(), teams.values()):
        for row in rows:
            expected = compute(row["scope"], OCTOBER)
            for name in dashboards.COMPARED:
                assert row["figures"][name] == expected[name], (row["label"], name)


def test_a_team_compares_its_agents_and_the_group_its_stores(
    store_a, store_b, team_a1, alice, bob, carol, sue, dave, busy_october
):
    team = dashboards.compare(Scope("team", team_a1.pk), OCTOBER, "agent")
    assert {row["scope"].id for row in team} == {alice.pk, bob.pk, sue.pk}
    stores = dashboards.compare(Scope("group"), OCTOBER, "store")
    assert [row["scope"].id for row in stores] == [store_a.pk, store_b.pk]
    assert stores[0]["figures"]["new_leads"].value == 4
    assert stores[1]["figures"]["new_leads"].value == 0
    assert dashboards.COMPARISONS["team"] == ("agent",)


# ---------------------------------------------------------------- channels and models


def test_every_source_has_its_row_and_web_leads_their_channels(
    store_a, alice, bob, lead, deal, envision, gl8, autohome, pbx_call
):
    """Issue 13 point 7: a walk-in, an inbound call's lead, a manufacturer
    lead each count under their source, never under "no channel"; web leads
    split by channel below the web row; 环比 and 同比 per row."""
    web1 = lead(alice, at(10, 3), channel=autohome)
    lead(alice, at(10, 4), channel=autohome, intended_model=gl8)
    lead(alice, at(10, 4), channel=None)  # a web lead naming no channel
    walk = lead(bob, at(10, 5), source=Source.WALK_IN)
    lead(bob, at(10, 6), source=Source.INBOUND)
    lead(bob, at(10, 7), source=Source.MANUFACTURER)
    lead(bob, at(11, 1, 0, 0, 0), channel=autohome)  # November's
    lead(bob, at(9, 2), channel=autohome)  # September: 环比 of the autohome row
    lead(bob, at(9, 3), source=Source.WALK_IN)
    lead(bob, at(9, 4), source=Source.WALK_IN)
    lead(bob, at(10, 8).replace(year=2025), source=Source.MANUFACTURER)  # 同比
    pbx_call(alice, "+8613700000001", at(10, 3, 13), lead=web1)
    pbx_call(alice, "+8613700000002", at(10, 3, 14), lead=web1, direction=Direction.OUTBOUND)
    pbx_call(bob, "+8613700000003", at(10, 6))  # no lead
    deal(web1, gl8, at(10, 9))
    deal(walk, envision, at(10, 10))
    figures = dashboards.sources(Scope("store", store_a.pk), OCTOBER, today=date(2026, 11, 15))
    rows = {(row["key"]["source"], row["key"].get("channel")): row for row in figures["rows"]}
    counts = {key: (row["leads"], row["calls"], row["deals"]) for key, row in rows.items()}
    # Every source has its row, in the order of Source.
    assert [row["key"]["source"] for row in figures["rows"] if row["level"] == 0] == [
        *Source.values,
        "none",
    ]
    assert counts[("web", None)] == (3, 2, 1)
    assert counts[("web", str(autohome.pk))] == (2, 2, 1)
    assert counts[("web", "none")] == (1, 0, 0)
    assert counts[("walk_in", None)] == (1, 0, 1)
    assert counts[("inbound", None)] == (1, 0, 0)
    assert counts[("manufacturer", None)] == (1, 0, 0)
    assert counts[("repurchase", None)] == (0, 0, 0)
    assert counts[("none", None)] == (0, 1, 0)  # the call of no lead
    # 环比: autohome 1 → 2 (+100 %), walk-in 2 → 1 (−50 %); 同比 manufacturer 1 → 1.
    autohome_leads = rows[("web", str(autohome.pk))]["cells"]["leads"]
    assert autohome_leads["mom"] == dashboards.Change(1, Decimal("100.00"))
    assert rows[("walk_in", None)]["cells"]["leads"]["mom"] == dashboards.Change(
        -1, Decimal("-50.00")
    )
    assert rows[("manufacturer", None)]["cells"]["leads"]["yoy"] == dashboards.Change(
        0, Decimal("0.00")
    )
    assert rows[("inbound", None)]["cells"]["leads"]["mom"] == dashboards.Change(1, None)
    models = {
        row["label"]: row for row in dashboards.vehicle_models(Scope("store", store_a.pk), OCTOBER)
    }
    assert models[envision.name]["leads"] == 5
    assert models[gl8.name]["deal_share"] == Decimal("50.00")


def test_the_month_so_far_is_compared_with_the_same_days(store_a, alice, lead, autohome):
    """On 7 October, October's 7 days are compared with 1–7 September and
    1–7 October a year before, not with whole months."""
    for day in (2, 3):
        lead(alice, at(10, day), channel=autohome)
    lead(alice, at(9, 5), channel=autohome)  # within 1–7 September
    lead(alice, at(9, 20), channel=autohome)  # after the 7th: not compared
    lead(alice, at(10, 3).replace(year=2025), channel=autohome)
    lead(alice, at(10, 25).replace(year=2025), channel=autohome)
    today = date(2026, 10, 7)
    now, mom, yoy = dashboards.compared_periods(OCTOBER, today)
    assert (now, mom, yoy) == (
        Period(date(2026, 10, 1), date(2026, 10, 7)),
        Period(date(2026, 9, 1), date(2026, 9, 7)),
        Period(date(2025, 10, 1), date(2025, 10, 7)),
    )
    rows = {
        r["name"]: r for r in dashboards.headline(Scope("store", store_a.pk), OCTOBER, today=today)
    }
    new = rows["new_leads"]
    assert (new["current"].value, new["last_month"].value, new["last_year"].value) == (2, 1, 1)
    assert new["mom"] == dashboards.Change(1, Decimal("100.00"))
    web = dashboards.sources(Scope("store", store_a.pk), OCTOBER, today=today)["rows"][1]
    assert web["key"] == {"source": "web"}
    assert web["cells"]["leads"]["mom"] == dashboards.Change(1, Decimal("100.00"))
    # A month that is over is compared whole; 31 March against 1–28 February.
    assert dashboards.compared_periods(OCTOBER, date(2026, 11, 2))[1] == months(2026, 9)
    march_so_far = Period(date(2026, 3, 1), date(2026, 3, 31))
    assert dashboards.same_days(march_so_far, months(2026, 2)) == months(2026, 2)


# ---------------------------------------------------------------- SLA and first contact


def _breach(lead, due, owner, kind=BreachKind.MANUFACTURER_48H, acknowledged=False):
    return SlaBreach.objects.create(
        store=lead.store,
        lead=lead,
        kind=kind,
        due_at=due,
        owner=owner,
        acknowledged_at=due if acknowledged else None,
    )


def test_breaches_by_kind_and_owner(store_a, team_a1, alice, bob, lead):
    one, two = lead(alice, at(9, 1)), lead(bob, at(9, 2))
    _breach(one, at(10, 1, 0, 0, 0), alice)
    _breach(one, at(10, 31, 23, 59, 59), alice, BreachKind.TRANSFER, acknowledged=True)
    _breach(two, at(10, 10), bob)
    _breach(two, at(11, 1, 0, 0, 0), bob)  # November's
    _breach(two, at(9, 30, 23, 59, 59), bob)  # September's
    figures = dashboards.breaches(Scope("store", store_a.pk), OCTOBER)
    assert figures["total"] == 3
    kinds = {row["key"]: (row["n"], row["open"]) for row in figures["kinds"]}
    assert kinds == {BreachKind.MANUFACTURER_48H: (2, 2), BreachKind.TRANSFER: (1, 0)}
    owners = {row["key"]: row["n"] for row in figures["owners"]}
    assert owners == {str(alice.pk): 2, str(bob.pk): 1}
    # The agent scope counts the breaches flagged against them.
    assert dashboards.breaches(Scope("agent", bob.pk), OCTOBER)["total"] == 1


def test_first_contact_distribution_buckets(store_a, alice, lead):
    minutes = [3, 5, 6, 60, 61, 120, 2880, 2881, None, None]
    for i, value in enumerate(minutes):
        item = lead(alice, at(10, 1 + i))
        Lead.objects.filter(pk=item.pk).update(first_contact_minutes=value)
    rows = dashboards.first_contact(Scope("store", store_a.pk), OCTOBER)
    assert [row["n"] for row in rows] == [2, 2, 2, 1, 1, 2]
    assert rows[0]["share"] == Decimal("20.00")
    assert rows[-1]["label"]  # "not contacted"


def test_first_contact_with_no_lead_has_no_share(store_a):
    rows = dashboards.first_contact(Scope("store", store_a.pk), OCTOBER)
    assert {row["share"] for row in rows} == {None}


# ---------------------------------------------------------------- defeat analysis


def _defeat(mike, item, reason, when):
    lead_services.lead_defeat(actor=mike, lead=item, reason=reason)
    Lead.objects.filter(pk=item.pk).update(defeated_at=when)


def test_defeat_analysis_by_reason_source_channel_model_and_agent(
    store_a, mike, alice, bob, lead, envision, gl8, autohome, price_reason
):
    from leads.models import DefeatReason

    elsewhere = DefeatReason.objects.get(code="bought_elsewhere", store=None)
    _defeat(mike, lead(alice, at(9, 1), channel=autohome), price_reason, at(10, 1, 0, 0, 0))
    _defeat(mike, lead(alice, at(9, 2), intended_model=gl8), price_reason, at(10, 15))
    _defeat(
        mike, lead(bob, at(9, 3), source=Source.MANUFACTURER), elsewhere, at(10, 31, 23, 59, 59)
    )
    _defeat(mike, lead(bob, at(9, 4)), elsewhere, at(9, 30, 23, 59, 59))  # September's
    figures = dashboards.defeats(Scope("store", store_a.pk), OCTOBER)
    assert figures["total"] == 3
    tables = {t["param"]: {row["key"]: row["n"] for row in t["rows"]} for t in figures["tables"]}
    assert tables["reason"] == {str(price_reason.pk): 2, str(elsewhere.pk): 1}
    assert tables["source"] == {"web": 2, "manufacturer": 1}
    assert tables["channel"] == {str(autohome.pk): 1, "none": 2}
    assert tables["model"] == {str(gl8.pk): 1, str(envision.pk): 2}
    assert tables["owner"] == {str(alice.pk): 2, str(bob.pk): 1}
    reason = next(t for t in figures["tables"] if t["param"] == "reason")
    assert reason["rows"][0]["share"] == Decimal("66.67")
    # A lead activated again is no longer a defeat.
    defeated = Lead.objects.filter(owner=bob, status="defeated", defeated_at__gte=at(10, 1))
    lead_services.lead_activate(actor=mike, lead=defeated.get(), owner=bob, reason="回访有意向")
    assert dashboards.defeats(Scope("store", store_a.pk), OCTOBER)["total"] == 2


# ---------------------------------------------------------------- drill-down


def test_drill_rows_count_each_number(store_a, alice, bob, lead, autohome, price_reason, mike):
    item = lead(alice, at(10, 3), channel=autohome)
    lead(bob, at(10, 4))
    _defeat(mike, item, price_reason, at(10, 20))
    scope = Scope("store", store_a.pk)
    assert dashboards.drill_rows(scope, OCTOBER, "received", {}).count() == 2
    rows = dashboards.drill_rows(scope, OCTOBER, "received", {"channel": str(autohome.pk)})
    assert list(rows) == [item]
    assert dashboards.drill_rows(scope, OCTOBER, "received", {"channel": "none"}).count() == 1
    assert list(dashboards.drill_rows(scope, OCTOBER, "defeated", {"owner": str(alice.pk)})) == [
        item
    ]
    with pytest.raises(ValueError, match="no filter reason"):
        dashboards.drill_rows(scope, OCTOBER, "received", {"reason": "1"})
    with pytest.raises(ValueError, match="no source nonsense"):
        dashboards.drill_rows(scope, OCTOBER, "defeated", {"source": "nonsense"})
    with pytest.raises(LookupError):
        dashboards.drill_rows(scope, OCTOBER, "everything", {})


def _links(html, testid):
    block = re.search(rf'data-testid="{testid}".*?</table>', html, re.S).group(0)
    return re.findall(r'<a href="([^"]+)">(\d+)</a>', block)


def test_every_breakdown_number_links_to_as_many_rows(
    web, mike, store_a, busy_october, autohome, price_reason
):
    _defeat(mike, busy_october[1], price_reason, at(10, 20))
    client = web(mike)
    html = client.get(DASHBOARD, {"s": f"store:{store_a.pk}", "month": "2026-10"}).content.decode()
    links = (
        _links(html, "channel-table")
        + _links(html, "model-table")
        + _links(html, "first-contact-table")
        + _links(html, "defeat-table")
    )
    assert len(links) > 10
    for url, number in links:
        page = client.get(url.replace("&amp;", "&"))
        assert page.status_code == 200, url
        assert page.content.decode().count('data-testid="drill-row"') == int(number), url


# ---------------------------------------------------------------- pages and scoping


def test_manager_opens_the_store_dashboard(web, mike, store_a, busy_october):
    response = web(mike).get(DASHBOARD, {"month": "2026-10"})
    assert response.status_code == 200
    html = response.content.decode()
    for section in ("headline", "trend", "compare-agent", "compare-team", "channels", "sla"):
        assert f'data-testid="section-{section}"' in html
    assert 'id="dashboard-charts"' in html
    assert "vendor/chartjs/chart.umd.min.js" in html
    row = re.search(r'data-name="new_leads".*?</tr>', html, re.S).group(0)
    assert reverse("kpi:drill", args=["new_leads", "numerator"]) in row
    assert ">4</a>" in row


def test_export_button_only_once_the_export_exists(web, mike, store_a):
    html = web(mike).get(DASHBOARD, {"month": "2026-10"}).content.decode()
    try:
        reverse("kpi:export")
    except NoReverseMatch:
        assert 'data-testid="export-workbook"' not in html
    else:
        assert f"month=2026-10&amp;store={store_a.pk}" in html


def test_an_agent_may_not_open_the_dashboard_or_the_wallboard(web, alice):
    client = web(alice)
    assert client.get(DASHBOARD).status_code == 403
    assert client.get(WALLBOARD).status_code == 403
    assert client.get(reverse("kpi:dashboard-drill", args=["received"])).status_code == 403


def test_a_supervisor_sees_only_the_team(web, sue, store_a, team_a1, team_a2, carol, busy_october):
    client = web(sue)
    response = client.get(DASHBOARD, {"month": "2026-10"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="section-compare-agent"' in html
    assert 'data-testid="section-compare-team"' not in html
    assert carol.display_name not in html
    assert client.get(DASHBOARD, {"s": f"store:{store_a.pk}"}).status_code == 403
    assert client.get(DASHBOARD, {"s": f"team:{team_a2.pk}"}).status_code == 404
    drill = reverse("kpi:dashboard-drill", args=["received"])
    assert client.get(drill, {"s": f"team:{team_a2.pk}", "month": "2026-10"}).status_code == 404


def test_another_store_manager_sees_nothing_of_store_a(web, mary, store_a, alice, busy_october):
    client = web(mary)
    html = client.get(DASHBOARD, {"month": "2026-10"}).content.decode()
    assert alice.display_name not in html
    assert store_a.name not in html
    assert client.get(DASHBOARD, {"s": f"store:{store_a.pk}"}).status_code == 404
    assert client.get(WALLBOARD, {"s": f"store:{store_a.pk}"}).status_code == 404
    drill = reverse("kpi:dashboard-drill", args=["defeated"])
    assert client.get(drill, {"s": f"store:{store_a.pk}"}).status_code == 404


def test_unknown_breakdowns_and_filters_are_not_found(web, mike, store_a):
    client = web(mike)
    assert client.get(reverse("kpi:dashboard-drill", args=["nothing"])).status_code == 404
    drill = reverse("kpi:dashboard-drill", args=["received"])
    assert client.get(drill, {"channel": "abc"}).status_code == 404
    assert client.get(drill, {"bucket": "99"}).status_code == 404


def test_a_bad_month_shows_a_message_and_the_current_month(web, mike):
    response = web(mike).get(DASHBOARD, {"month": "2026-13"})
    assert response.status_code == 200
    assert len(list(response.context["messages"])) == 1


def test_query_count_is_bounded_and_does_not_grow_with_staff(
    web, mike, store_a, team_a1, busy_october, django_assert_max_num_queries
):
    client = web(mike)
    params = {"s": f"store:{store_a.pk}", "month": "2026-10"}
    client.get(DASHBOARD, params)  # warm caches (content types, sessions)
    # 90: the source table reads three periods (the month, 环比, 同比) of leads, calls, deals.
    with django_assert_max_num_queries(90):
        client.get(DASHBOARD, params)
    # Computed both times (a closed month's figures are stored once read:
    # kpi.monthly), with five agents more the second time.
    MonthlyResult.objects.all().delete()
    with CaptureQueriesContext(connection) as few:
        client.get(DASHBOARD, params)
    for i in range(5):
        StaffFactory(username=f"extra{i}", role=Role.AGENT, store=store_a, team=team_a1)
    MonthlyResult.objects.all().delete()
    with CaptureQueriesContext(connection) as many:
        response = client.get(DASHBOARD, params)
    assert response.content.decode().count('data-testid="compare-row"') > 6
    assert len(many) == len(few)


def test_wallboard_query_count_does_not_grow_with_staff(
    web, mike, store_a, team_a1, busy_october, django_assert_max_num_queries
):
    client = web(mike)
    poll = {"headers": {"HX-Request": "true"}}
    client.get(WALLBOARD, **poll)
    # 21: the layout's badges include the defeats awaiting approval.
    with django_assert_max_num_queries(21), CaptureQueriesContext(connection) as few:
        client.get(WALLBOARD, **poll)
    for i in range(5):
        StaffFactory(username=f"extra{i}", role=Role.AGENT, store=store_a, team=team_a1)
    with CaptureQueriesContext(connection) as many:
        client.get(WALLBOARD, **poll)
    assert len(many) == len(few)


# ---------------------------------------------------------------- wall-board


def test_wallboard_figures(
    store_a, alice, bob, mike, lead, call_log, deal, envision, pbx_call, price_reason
):
    now = at(10, 15, 15)
    waiting = lead(alice, at(10, 15, 9))
    overdue = lead(bob, at(10, 10))
    call_log(bob, overdue, at(10, 10, 13))
    Lead.objects.filter(pk=overdue.pk).update(next_followup_at=at(10, 14, 10))
    pbx_call(alice, "+8613700000001", at(10, 15, 10))
    pbx_call(alice, "+8613700000002", at(10, 15, 11), disposition=Disposition.NO_ANSWER)
    pbx_call(bob, "+8613700000003", at(10, 15, 12), direction=Direction.OUTBOUND)
    pbx_call(bob, "+8613700000004", at(10, 14, 12))  # yesterday
    _breach(waiting, at(10, 15, 10), alice)
    _breach(overdue, at(10, 11), bob, acknowledged=True)
    deal(overdue, envision, at(10, 12))
    Target.objects.create(
        store=store_a, member=bob, month=date(2026, 10, 1), category="SUV", units=4
    )
    board = dashboards.wallboard(Scope("store", store_a.pk), now=now)
    assert board["calls"] == {"inbound": 2, "outbound": 1, "missed": 1, "total": 3}
    assert (board["waiting"], board["overdue"], board["open_breaches"]) == (1, 1, 1)
    assert (board["deals"], board["target"]) == (1, 4)
    assert board["completion"].value == Decimal("25.00")
    top = board["top_agents"]
    assert [row["label"] for row in top[:2]] == [bob.display_name, alice.display_name]
    assert top[1]["calls_today"] == 2


def test_wallboard_page_polls_its_figures_without_reloading(web, mike):
    client = web(mike)
    page = client.get(WALLBOARD).content.decode()
    assert 'hx-trigger="every 60s"' in page
    assert "<html" in page
    figures = client.get(WALLBOARD, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in figures
    assert 'data-testid="tile-calls"' in figures


def test_wallboard_signed_out_goes_to_login_once(client):
    response = client.get(WALLBOARD)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    polled = client.get(WALLBOARD, headers={"HX-Request": "true"})
    assert polled.status_code == 204
    assert polled["HX-Redirect"] == f"{reverse('login')}?next={WALLBOARD}"


def test_supervisor_wallboard_is_the_team(web, sue, team_a1, carol, busy_october):
    response = web(sue).get(WALLBOARD)
    assert response.status_code == 200
    assert response.context["scope"] == Scope("team", team_a1.pk)


def test_consultants_are_not_ranked_with_agents(
    web, mike, store_a, team_a1, alice, lead, deal, envision
):
    """Issue 13 point 7: a showroom consultant with deals is in no agent
    comparison (dashboard) and no top-agents list (wall-board)."""
    consultant = StaffFactory(username="connie", role=Role.CONSULTANT, store=store_a, team=team_a1)
    today = timezone.localdate()
    item = lead(consultant, at(today.month, 1).replace(year=today.year))
    deal(item, envision, at(today.month, 1, 13).replace(year=today.year))
    scope = Scope("store", store_a.pk)
    units = [unit.id for unit, _label in dashboards.compared_units(scope, "agent")]
    assert alice.pk in units
    assert consultant.pk not in units
    board = dashboards.wallboard(scope)
    assert consultant.display_name not in [row["label"] for row in board["top_agents"]]
    html = web(mike).get(DASHBOARD, {"s": f"store:{store_a.pk}"}).content.decode()
    assert f'data-unit="agent:{consultant.pk}"' not in html
    assert f'data-unit="agent:{alice.pk}"' in html


def test_talk_time_reads_as_hours_minutes_seconds(web, mike, store_a, alice, pbx_call):
    from kpi.templatetags.kpi_format import hms

    assert (hms(3725), hms(45), hms(None)) == ("1:02:05", "0:00:45", "—")
    pbx_call(alice, "+8613700000009", at(10, 6), billsec=3725)
    page = web(mike).get(
        reverse("kpi:drill", args=["talk_seconds_per_agent_day", "numerator"]),
        {"s": f"store:{store_a.pk}", "month": "2026-10"},
    )
    assert "1:02:05" in page.content.decode()
