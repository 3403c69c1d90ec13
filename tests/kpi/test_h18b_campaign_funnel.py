"""The campaign funnel (issue 18, point 7) against a scenario computed by
hand, per campaign and per caller; each number drills down to exactly its
members; one query per funnel; the Excel export; scope and roles."""

import io
from datetime import timedelta

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from followups import services as followup_services
from followups.campaigns import calls, invitations
from followups.campaigns.models import CampaignMember
from kpi import campaigns as funnels
from leads.models import Deal
from tests.campaign_helpers import add_member, launched_campaign, make_event

pytestmark = pytest.mark.django_db

# m1..m10: m1, m2 replied (no call); m9 sent but not delivered; m10 never
# sent. The rest go to the callers alternately (alice m3, m5, m7, m9; bob
# m4, m6, m8, m10). Alice: m3 interested (lead, invited yes, came to the
# event), m5 no answer, m7 not interested, m9 not called. Bob: m4 no answer
# then interested (lead, invited maybe, a store visit and a deal), m6 wrong
# number, m8 opt-out, m10 not called.
EXPECTED = {
    "members": 10,
    "sms_sent": 9,
    "delivered": 8,
    "replied": 2,
    "called": 6,
    "reached": 5,
    "leads": 2,
    "invited": 2,
    "visited": 2,
    "deals": 1,
    "rsvps": 1,
    "attended": 1,
}
EXPECTED_BY_CALLER = {
    None: dict.fromkeys(EXPECTED, 0) | {"members": 2, "sms_sent": 2, "delivered": 2, "replied": 2},
    "alice": {
        "members": 4,
        "sms_sent": 4,
        "delivered": 3,
        "replied": 0,
        "called": 3,
        "reached": 2,
        "leads": 1,
        "invited": 1,
        "visited": 1,
        "deals": 0,
        "rsvps": 1,
        "attended": 1,
    },
    "bob": {
        "members": 4,
        "sms_sent": 3,
        "delivered": 3,
        "replied": 0,
        "called": 3,
        "reached": 3,
        "leads": 1,
        "invited": 1,
        "visited": 1,
        "deals": 1,
        "rsvps": 0,
        "attended": 0,
    },
}


@pytest.fixture
def scenario(store_a, team_a1, alice, bob, sue, mike, connie, envision, settings):
    settings.SMS_BACKEND = "followups.backends.console.OutboxOnlyBackend"
    campaign = launched_campaign(store_a, team=team_a1, created_by=sue, name="老客户置换季")
    m = {}
    for n in range(1, 11):
        fields = {}
        if n in (1, 2):
            fields["replied_at"] = timezone.now()
        m[n] = add_member(campaign, sent=n != 10, delivered=n not in (9, 10), **fields)
    calls.generate_for_campaign(campaign.pk)
    for n in (3, 5, 7, 9):
        assert CampaignMember.objects.get(pk=m[n].pk).caller == alice
    for n in (4, 6, 8, 10):
        assert CampaignMember.objects.get(pk=m[n].pk).caller == bob

    def log(user, n, outcome):
        calls.call_record(actor=user, member=m[n], outcome=outcome)

    log(alice, 3, "interested")
    log(alice, 5, "no_answer")
    log(alice, 7, "not_interested")
    log(bob, 4, "no_answer")
    CampaignMember.objects.filter(pk=m[4].pk).update(call_due_at=timezone.now())
    log(bob, 4, "interested")
    log(bob, 6, "wrong_number")
    log(bob, 8, "opt_out")
    for n in m:
        m[n].refresh_from_db()

    event = make_event(mike, store_a, campaign=campaign)
    came = invitations.invite(actor=alice, event=event, member=m[3], rsvp="yes")
    invitations.invite(actor=bob, event=event, member=m[4], rsvp="maybe")
    invitations.check_in(actor=connie, invitation=came)

    visit = followup_services.appointment_book(
        actor=bob, lead=m[4].lead, scheduled_at=timezone.now() + timedelta(hours=2)
    )
    followup_services.appointment_arrive(actor=mike, appointment=visit)
    Deal.objects.create(
        store=store_a,
        lead=m[4].lead,
        vehicle_model=envision,
        agent=bob,
        ordered_at=timezone.now(),
        created_by=mike,
    )
    return campaign, m


def test_the_funnel_matches_the_hand_computed_scenario(scenario, mike):
    campaign, _m = scenario
    assert funnels.funnel(campaign, user=mike) == EXPECTED


def test_the_funnel_per_caller(scenario, mike, alice, bob):
    campaign, _m = scenario
    names = {None: None, alice.pk: "alice", bob.pk: "bob"}
    rows = {
        names[row["caller"]]: {key: row[key] for key in EXPECTED}
        for row in funnels.funnel_by_caller(campaign, user=mike)
    }
    assert rows == EXPECTED_BY_CALLER
    # The callers' rows add up to the funnel.
    for key, total in EXPECTED.items():
        assert sum(row[key] for row in rows.values()) == total


def test_each_number_drills_down_to_its_members(scenario, mike, alice):
    campaign, m = scenario
    for key, count in EXPECTED.items():
        assert funnels.drill(campaign, user=mike, step=key).count() == count, key
    reached = {row.pk for row in funnels.drill(campaign, user=mike, step="reached")}
    assert reached == {m[n].pk for n in (3, 4, 6, 7, 8)}
    alices = funnels.drill(campaign, user=mike, step="called", caller=alice.pk)
    assert {row.pk for row in alices} == {m[n].pk for n in (3, 5, 7)}
    unlisted = funnels.drill(campaign, user=mike, step="members", caller=0)
    assert {row.pk for row in unlisted} == {m[1].pk, m[2].pk}


def test_one_query_per_funnel(scenario, mike, django_assert_num_queries):
    campaign, _m = scenario
    with django_assert_num_queries(1):
        funnels.funnel(campaign, user=mike)
    with django_assert_num_queries(2):  # the counts, then the callers' names
        funnels.funnel_by_caller(campaign, user=mike)


def test_the_pages(scenario, mike, web, django_assert_max_num_queries):
    campaign, m = scenario
    client = web(mike)
    with django_assert_max_num_queries(14):
        page = client.get(f"/kpi/campaigns/{campaign.pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert f"/kpi/campaigns/{campaign.pk}/members/?step=leads" in body
    with django_assert_max_num_queries(14):
        drill = client.get(f"/kpi/campaigns/{campaign.pk}/members/?step=leads")
    assert drill.status_code == 200
    assert drill.content.decode().count('data-testid="member-row"') == 2
    assert m[3].customer.name in drill.content.decode()
    assert client.get(f"/kpi/campaigns/{campaign.pk}/members/?step=nope").status_code == 404
    listing = client.get("/kpi/campaigns/")
    assert listing.status_code == 200
    assert "老客户置换季" in listing.content.decode()


def test_the_excel_export(scenario, mike, bob, web):
    campaign, _m = scenario
    response = web(mike).get(f"/kpi/campaigns/{campaign.pk}/export/")
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.content))
    funnel_sheet, caller_sheet = workbook.worksheets
    rows = list(funnel_sheet.values)
    assert rows[0][0] == "老客户置换季"
    assert list(rows[2]) == [EXPECTED[step.key] for step in funnels.STEPS]
    callers = {row[0]: list(row[1:]) for row in list(caller_sheet.values)[1:]}
    assert callers[bob.display_name] == [EXPECTED_BY_CALLER["bob"][s.key] for s in funnels.STEPS]


def test_who_reads_the_funnel(scenario, alice, mary, sue, web, api):
    campaign, _m = scenario
    assert web(alice).get(f"/kpi/campaigns/{campaign.pk}/").status_code == 403
    assert web(mary).get(f"/kpi/campaigns/{campaign.pk}/").status_code == 404
    assert web(mary).get(f"/kpi/campaigns/{campaign.pk}/export/").status_code == 404
    assert web(sue).get(f"/kpi/campaigns/{campaign.pk}/").status_code == 200  # the team's
    assert api(mary).get(f"/api/v1/kpi/campaign-funnels/{campaign.pk}/").status_code == 404
    assert api(alice).get(f"/api/v1/kpi/campaign-funnels/{campaign.pk}/").status_code == 403
    body = api(sue).get(f"/api/v1/kpi/campaign-funnels/{campaign.pk}/").json()
    assert body["funnel"] == EXPECTED
    assert len(body["by_caller"]) == 3


def test_dashboard_figures(scenario, mike):
    campaign, _m = scenario
    (row,) = funnels.dashboard_figures(user=mike)
    assert row["campaign"] == campaign
    assert (row["members"], row["reached"], row["leads"], row["visited"], row["deals"]) == (
        10,
        5,
        2,
        2,
        1,
    )
