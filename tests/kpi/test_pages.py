"""KPI pages: the table links every figure to its rows, the drill-down
lists exactly them (paginated, linking to the leads), scopes are enforced
like the API, query counts stay bounded; the target grid and the meeting
log write through their services."""

import re
from datetime import date, time

import pytest
from django.urls import reverse
from django.utils import timezone

from kpi.models import KpiSettings, Meeting, Target
from tests.kpi.conftest import at

pytestmark = pytest.mark.django_db

INDEX = reverse("kpi:index")


def drill(name, part):
    return reverse("kpi:drill", args=[name, part])


@pytest.fixture
def october(alice, bob, lead, call_log, visit, deal, envision, pbx_call):
    first = lead(alice, at(9, 20))
    call_log(alice, first, at(10, 3))
    visit(alice, first, at(10, 8), test_drive=True)
    deal(first, envision, at(10, 9))
    second = lead(bob, at(10, 4))
    call_log(bob, second, at(10, 5))
    lead(alice, at(10, 31, 23, 59, 59))
    pbx_call(alice, "+8613700000001", at(10, 2), new_caller=True)
    return first, second


def test_table_links_each_figure_to_its_rows(web, mike, store_a, october):
    response = web(mike).get(INDEX, {"s": f"store:{store_a.pk}", "month": "2026-10"})
    assert response.status_code == 200
    html = response.content.decode()
    # Follow-up rate: first calls 2 of (1 carried over + 2 received) = 66.67 %.
    row = re.search(r'data-name="followup_rate".*?</tr>', html, re.S).group(0)
    assert "66.67%" in row
    assert f"{drill('followup_rate', 'numerator')}?s=store%3A{store_a.pk}&amp;month=2026-10" in row
    assert drill("followup_rate", "denominator") in row
    # An empty base shows a dash, not 0 %.
    row = re.search(r'data-name="sla_48h_compliance".*?</tr>', html, re.S).group(0)
    assert "—" in row


def test_drilldown_lists_the_counted_leads_with_links(web, mike, store_a, october):
    first, second = october
    response = web(mike).get(
        drill("followup_rate", "denominator"), {"s": f"store:{store_a.pk}", "month": "2026-10"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('data-testid="drill-row"') == 3
    assert reverse("desk:lead", args=[first.pk]) in html
    assert reverse("desk:lead", args=[second.pk]) in html


@pytest.mark.parametrize(
    ("name", "part", "rows"),
    [
        ("followup_rate", "numerator", 2),
        ("test_drive_rate", "numerator", 1),
        ("deals", "numerator", 1),
        ("card_creation_rate", "denominator", 1),
    ],
)
def test_each_kind_of_row_renders(web, mike, store_a, october, name, part, rows):
    response = web(mike).get(drill(name, part), {"s": f"store:{store_a.pk}", "month": "2026-10"})
    assert response.status_code == 200
    assert response.content.decode().count('data-testid="drill-row"') == rows


def test_meetings_denominator_lists_its_working_days(web, mike, store_a, team_a1, october):
    """Issue 13 point 7: the meetings figure's denominator drills to the
    working days it counts (per team), not to the month's meetings."""
    from kpi.metrics import Period, Scope, meetings_on_time, working_day_rows

    scope = Scope("store", store_a.pk)
    october_ = Period.month(2026, 10)
    figure = meetings_on_time(scope, october_)
    assert figure.denominator > 0
    rows = working_day_rows(scope, october_)
    assert len(rows) == figure.denominator
    assert sum(row["on_time"] for row in rows) == figure.numerator
    assert all(row["day"].isoweekday() != 7 for row in rows)  # Monday–Saturday by default
    client = web(mike)
    params = {"s": f"store:{store_a.pk}", "month": "2026-10"}
    html = client.get(drill("meetings_on_time", "denominator"), params).content.decode()
    assert html.count('data-testid="drill-row"') == min(figure.denominator, 50)
    assert team_a1.name in html


def test_drilldown_pages_by_fifty(web, mike, alice, store_a, lead):
    for minute in range(52):
        lead(alice, at(10, 2, 10, minute))
    params = {"s": f"store:{store_a.pk}", "month": "2026-10"}
    first = web(mike).get(drill("new_leads", "numerator"), params).content.decode()
    assert first.count('data-testid="drill-row"') == 50
    second = web(mike).get(drill("new_leads", "numerator"), {**params, "page": 2})
    assert second.content.decode().count('data-testid="drill-row"') == 2


def test_unknown_figure_or_part_is_404(web, mike):
    assert web(mike).get(drill("happiness", "numerator")).status_code == 404
    assert web(mike).get(drill("deals", "denominator")).status_code == 404


@pytest.mark.parametrize(
    ("username", "key", "expected"),
    [
        ("alice", "agent:{alice}", 200),
        ("alice", "agent:{bob}", 404),
        ("alice", "team:{team_a1}", 403),
        ("sue", "agent:{alice}", 200),
        ("sue", "team:{team_a2}", 404),
        ("mike", "team:{team_a2}", 200),
        ("mary", "store:{store_a}", 404),
        ("mike", "group", 403),
        ("root", "group", 200),
        ("mike", "planet:1", 404),
    ],
)
def test_page_scopes_like_the_api(
    web, everyone, team_a1, team_a2, store_a, username, key, expected
):
    ids = {
        "alice": everyone["alice"].pk,
        "bob": everyone["bob"].pk,
        "team_a1": team_a1.pk,
        "team_a2": team_a2.pk,
        "store_a": store_a.pk,
    }
    user = web(everyone[username])
    assert user.get(INDEX, {"s": key.format(**ids)}).status_code == expected
    assert user.get(drill("deals", "numerator"), {"s": key.format(**ids)}).status_code == expected


def test_agent_sees_only_their_own_scope_in_the_picker(web, alice, bob, mike):
    html = web(alice).get(INDEX).content.decode()
    assert f'value="agent:{alice.pk}"' in html
    assert f'value="agent:{bob.pk}"' not in html
    manager_html = web(mike).get(INDEX).content.decode()
    assert f'value="agent:{bob.pk}"' in manager_html


def test_navigation_offers_kpis_to_everyone(web, everyone):
    for username in ("alice", "sue", "mike", "root"):
        assert INDEX in web(everyone[username]).get("/").content.decode(), username


def test_bad_month_falls_back_with_a_message(web, mike, store_a):
    response = web(mike).get(INDEX, {"s": f"store:{store_a.pk}", "month": "2026-13"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'role="alert"' in html  # the message says how to write a month
    assert 'data-testid="kpi-table"' in html


def test_date_range_page(web, mike, store_a, october):
    response = web(mike).get(
        INDEX, {"s": f"store:{store_a.pk}", "since": "2026-10-01", "until": "2026-10-15"}
    )
    assert response.status_code == 200
    assert "2026-10-01 – 2026-10-15" in response.content.decode()


def test_query_counts_are_bounded(
    web, mike, store_a, october, lead, alice, django_assert_max_num_queries
):
    client = web(mike)
    params = {"s": f"store:{store_a.pk}", "month": "2026-10"}
    client.get(INDEX, params)  # warm the session
    # 25, and the 4 statements of kpi.limits' time limit inside a test's
    # transaction (savepoint, SET LOCAL, release, reset; 1 in production).
    with django_assert_max_num_queries(29):
        client.get(INDEX, params)
    for day in range(1, 20):
        lead(alice, at(10, day))
    with django_assert_max_num_queries(29):
        client.get(INDEX, params)
    with django_assert_max_num_queries(14):  # 10, and kpi.limits' 4
        client.get(drill("followup_rate", "denominator"), params)


# ---------------------------------------------------------------- targets


def test_supervisor_fills_the_target_grid(web, sue, alice, bob, team_a1, envision, gl8):
    client = web(sue)
    page = client.get(reverse("kpi:targets"), {"month": "2026-10"})
    assert page.status_code == 200
    html = page.content.decode()
    # Categories in order (MPV, SUV): alice's cells are t-<id>-0 and t-<id>-1.
    assert f'name="t-{alice.pk}-1"' in html
    response = client.post(
        reverse("kpi:targets"),
        {
            "team": team_a1.pk,
            "month": "2026-10",
            f"t-{alice.pk}-0": "1",
            f"t-{alice.pk}-1": "3",
            f"t-{bob.pk}-1": "",
        },
    )
    assert response.status_code == 302
    targets = Target.objects.filter(month=date(2026, 10, 1))
    assert sorted(targets.values_list("member__username", "category", "units")) == [
        ("alice", "MPV", 1),
        ("alice", "SUV", 3),
    ]
    bad = client.post(
        reverse("kpi:targets"), {"team": team_a1.pk, "month": "2026-10", f"t-{bob.pk}-1": "x"}
    )
    assert bad.status_code == 200
    assert not Target.objects.filter(member=bob).exists()


def test_targets_need_the_capability_and_the_team(web, alice, sue, team_a2, envision):
    assert web(alice).get(reverse("kpi:targets")).status_code == 403
    assert web(sue).get(reverse("kpi:targets"), {"team": team_a2.pk}).status_code == 404


# ---------------------------------------------------------------- meetings


def test_supervisor_records_a_meeting(web, sue, alice, bob, team_a1):
    client = web(sue)
    page = client.get(reverse("kpi:meetings"))
    assert page.status_code == 200
    now = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        reverse("kpi:meetings"),
        {
            "team": team_a1.pk,
            "kind": "morning",
            "held_at": now,
            "attendees": [alice.pk, bob.pk],
            "minutes": "本周目标",
        },
    )
    assert response.status_code == 302
    meeting = Meeting.objects.get()
    assert set(meeting.attendees.all()) == {alice, bob}
    assert meeting.minutes == "本周目标"
    log = client.get(response.url).content.decode()
    assert log.count('data-testid="meeting-row"') == 1


def test_supervisor_cannot_back_date_a_meeting(web, sue, team_a1):
    response = web(sue).post(
        reverse("kpi:meetings"),
        {"team": team_a1.pk, "kind": "evening", "held_at": "2026-10-01T17:00"},
    )
    assert response.status_code == 200
    assert not Meeting.objects.exists()


def test_meetings_need_the_capability(web, alice):
    assert web(alice).get(reverse("kpi:meetings")).status_code == 403


# ---------------------------------------------------------------- settings


def test_manager_sets_the_meeting_rule_and_working_days(web, mike, store_a):
    client = web(mike)
    assert client.get(reverse("kpi:settings")).status_code == 200
    response = client.post(
        reverse("kpi:settings"),
        {
            "store": store_a.pk,
            "morning_meeting_latest": "08:45",
            "evening_meeting_latest": "18:30",
            "working_weekdays": "12345",
            "daily_inbound_calls": 50,
            "daily_outbound_calls": 70,
            "daily_invitations": 3,
        },
    )
    assert response.status_code == 302
    settings = KpiSettings.objects.get(store=store_a)
    assert (settings.morning_meeting_latest, settings.working_weekdays) == (time(8, 45), "12345")
    assert settings.history.first().history_user == mike
    bad = client.post(
        reverse("kpi:settings"),
        {
            "store": store_a.pk,
            "morning_meeting_latest": "08:45",
            "evening_meeting_latest": "18:30",
            "working_weekdays": "1189",
        },
    )
    assert bad.status_code == 200
    assert KpiSettings.objects.get(store=store_a).working_weekdays == "12345"


def test_settings_are_the_managers(web, sue, mary, store_a):
    assert web(sue).get(reverse("kpi:settings")).status_code == 403
    assert web(mary).get(reverse("kpi:settings"), {"store": store_a.pk}).status_code == 404
