"""Campaign call lists (issue 18, point 5): who is put on the list, when,
to whom (evenly), exactly once; the attempt cap; what each outcome does;
and who may see and log what."""

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connections
from django.utils import timezone

from followups.campaigns import calls
from followups.campaigns.models import CampaignMember
from followups.campaigns.models_outreach import CampaignCall
from followups.campaigns.tasks import generate_calls
from followups.models import FollowupPolicy
from leads.models import Lead, OptOut, Source
from tests.campaign_helpers import add_member, launched_campaign


@pytest.fixture
def campaign(store_a, team_a1, alice, bob, carol, sue):
    return launched_campaign(store_a, team=team_a1, members=5, created_by=sue)


def test_due_members_go_evenly_to_the_teams_callers_once(campaign, alice, bob, carol):
    replied = add_member(campaign, replied_at=timezone.now(), reply_text="好的")
    opted = add_member(campaign, opted_out_at=timezone.now())
    listed = add_member(campaign)  # put on the store's list after the launch
    OptOut.objects.create(store=campaign.store, phone=listed.phone, reason="list")

    result = calls.generate_for_campaign(campaign.pk)

    assert result.added == 5
    members = CampaignMember.objects.filter(campaign=campaign)
    by_caller = {user.username: members.filter(caller=user).count() for user in (alice, bob, carol)}
    # Team A1's agents only (carol is in A2), 3 and 2.
    assert by_caller == {"alice": 3, "bob": 2, "carol": 0}
    replied.refresh_from_db()
    opted.refresh_from_db()
    assert replied.caller is None
    assert opted.caller is None
    # Again, and by the beat task: nothing more, nobody moved.
    before = list(members.order_by("pk").values_list("pk", "caller", "call_due_at"))
    assert calls.generate_for_campaign(campaign.pk).added == 0
    generate_calls.apply()
    assert list(members.order_by("pk").values_list("pk", "caller", "call_due_at")) == before


def test_new_members_go_to_the_least_loaded_caller(campaign, alice, bob):
    calls.generate_for_campaign(campaign.pk)  # alice 3, bob 2
    late = add_member(campaign)
    calls.generate_for_campaign(campaign.pk)
    late.refresh_from_db()
    assert late.caller == bob


def test_nothing_before_the_delay_or_for_a_chosen_group(store_a, team_a1, alice, sue):
    early = launched_campaign(store_a, team=team_a1, members=2, dispatched_hours_ago=47)
    assert calls.generate_for_campaign(early.pk).added == 0
    every = launched_campaign(
        store_a, team=team_a1, members=2, dispatched_hours_ago=2, call_delay_hours=1
    )
    add_member(every, replied_at=timezone.now())
    every.call_target = "all"
    every.save()
    assert calls.generate_for_campaign(every.pk).added == 3  # repliers too

    group = launched_campaign(store_a, team=team_a1, members=3, call_target="group")
    assert calls.generate_for_campaign(group.pk).added == 0
    chosen = list(group.members.order_by("pk")[:2])
    result = calls.call_group(actor=sue, campaign=group, member_ids=[m.pk for m in chosen])
    assert result.added == 2
    assert group.members.filter(caller__isnull=False).count() == 2


def test_an_agent_may_not_choose_the_group(store_a, team_a1, alice):
    group = launched_campaign(store_a, team=team_a1, members=1, call_target="group")
    with pytest.raises(PermissionDenied):
        calls.call_group(actor=alice, campaign=group, member_ids=[group.members.get().pk])


def _alices_member(campaign, alice):
    calls.generate_for_campaign(campaign.pk)
    return CampaignMember.objects.filter(caller=alice).order_by("pk").first()


def test_attempt_cap_then_unreachable(campaign, alice):
    FollowupPolicy.objects.update_or_create(
        store=campaign.store, defaults={"retry_no_answer_hours": 2}
    )
    member = _alices_member(campaign, alice)
    now = timezone.now()
    for attempt in (1, 2):
        calls.call_record(actor=alice, member=member, outcome="no_answer", now=now)
        member.refresh_from_db()
        assert member.call_attempts == attempt
        assert member.call_outcome == ""
        assert member.call_due_at == now + timedelta(hours=2)
        # Off the list until the retry time.
        assert member not in calls.open_calls_for(alice, now=now)
        assert member in calls.open_calls_for(alice, now=now + timedelta(hours=2))
        now += timedelta(hours=3)
    calls.call_record(actor=alice, member=member, outcome="no_answer", now=now)
    member.refresh_from_db()
    assert (member.call_attempts, member.call_outcome) == (3, "unreachable")
    assert member not in calls.open_calls_for(alice, now=now + timedelta(days=9))
    assert CampaignCall.objects.filter(member=member).count() == 3
    with pytest.raises(ValidationError):  # the call is closed
        calls.call_record(actor=alice, member=member, outcome="interested", now=now)


def test_a_campaigns_own_cap(store_a, team_a1, alice):
    campaign = launched_campaign(store_a, team=team_a1, members=1, attempt_cap=1)
    member = _alices_member(campaign, alice)
    calls.call_record(actor=alice, member=member, outcome="no_answer")
    member.refresh_from_db()
    assert member.call_outcome == "unreachable"


def test_interested_makes_a_repurchase_lead_with_the_trade_in(campaign, alice, envision):
    campaign.promoted_models.add(envision)
    member = _alices_member(campaign, alice)
    calls.call_record(actor=alice, member=member, outcome="interested", note="想换SUV")
    member.refresh_from_db()
    lead = member.lead
    assert member.call_outcome == "interested"
    assert member.outcome_at is not None
    assert lead.source == Source.REPURCHASE
    assert lead.owner == alice
    assert lead.phone == member.phone
    assert lead.customer_id == member.customer_id  # the owner's own record
    assert lead.trade_in == member.vehicle
    assert lead.intended_model == envision


def test_interested_with_an_open_lead_links_it(campaign, alice, bob, make_lead):
    member = _alices_member(campaign, alice)
    existing = make_lead(bob, phone=member.phone)
    calls.call_record(actor=alice, member=member, outcome="interested")
    member.refresh_from_db()
    assert member.lead == existing
    assert Lead.objects.filter(phone=member.phone).count() == 1


def test_opt_out_puts_the_number_on_the_stores_list(campaign, alice):
    member = _alices_member(campaign, alice)
    calls.call_record(actor=alice, member=member, outcome="opt_out")
    member.refresh_from_db()
    assert member.call_outcome == "opt_out"
    assert member.opted_out_at is not None
    assert OptOut.objects.filter(store=campaign.store, phone=member.phone).exists()


@pytest.mark.parametrize("outcome", ["not_interested", "wrong_number"])
def test_other_outcomes_close_the_call(campaign, alice, outcome):
    member = _alices_member(campaign, alice)
    calls.call_record(actor=alice, member=member, outcome=outcome)
    member.refresh_from_db()
    assert member.call_outcome == outcome
    assert member.lead is None
    assert member not in calls.open_calls_for(alice)


def test_nobody_logs_on_anothers_list(campaign, alice, bob, mike):
    member = _alices_member(campaign, alice)
    with pytest.raises(PermissionDenied):
        calls.call_record(actor=bob, member=member, outcome="interested")
    with pytest.raises(PermissionDenied):
        calls.call_record(actor=mike, member=member, outcome="interested")  # wrong role


# ---------------------------------------------------------------- pages and API


def test_the_desk_shows_the_campaign_section(campaign, alice, bob, web):
    calls.generate_for_campaign(campaign.pk)
    page = web(alice).get("/followups/desk-extras/", HTTP_HX_REQUEST="true")
    assert page.status_code == 200
    assert page.content.decode().count('data-testid="campaign-call-row"') == 3
    # Without htmx, a page of its own with the same section.
    page = web(alice).get("/followups/desk-extras/")
    assert page.content.decode().count('data-testid="campaign-call-row"') == 3


def test_a_member_page_and_logging_through_it(campaign, alice, bob, web):
    member = _alices_member(campaign, alice)
    client = web(alice)
    page = client.get(f"/followups/campaign-calls/{member.pk}/")
    assert page.status_code == 200
    assert "老客户置换补贴" in page.content.decode()
    response = client.post(
        f"/followups/campaign-calls/{member.pk}/log/", {"outcome": "not_interested"}
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.call_outcome == "not_interested"
    # Bob's page for alice's member: 404; a manager: 403.
    assert web(bob).get(f"/followups/campaign-calls/{member.pk}/").status_code == 404


def test_call_list_query_count(campaign, alice, web, django_assert_max_num_queries):
    calls.generate_for_campaign(campaign.pk)
    for _n in range(20):
        add_member(campaign)
    calls.generate_for_campaign(campaign.pk)
    client = web(alice)
    with django_assert_max_num_queries(12):
        assert client.get("/followups/campaign-calls/").status_code == 200


def test_api_list_and_outcome(campaign, alice, bob, mike, api):
    member = _alices_member(campaign, alice)
    listed = api(alice).get("/api/v1/campaign-calls/")
    assert listed.status_code == 200
    ids = [row["id"] for row in listed.json()["results"]]
    assert member.pk in ids
    assert len(ids) == 3
    assert (
        api(bob)
        .post(f"/api/v1/campaign-calls/{member.pk}/outcome/", {"outcome": "interested"})
        .status_code
        == 404
    )
    assert api(mike).get("/api/v1/campaign-calls/").status_code == 403
    bad = api(alice).post(f"/api/v1/campaign-calls/{member.pk}/outcome/", {"outcome": "maybe"})
    assert bad.status_code == 400
    assert "outcome" in bad.json()
    done = api(alice).post(f"/api/v1/campaign-calls/{member.pk}/outcome/", {"outcome": "no_answer"})
    assert done.status_code == 201
    assert done.json()["call_attempts"] == 1


# ---------------------------------------------------------------- twenty at once


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_generators_at_once_give_each_member_one_caller(store_a, team_a1, alice, bob):
    campaign = launched_campaign(store_a, team=team_a1, members=30)
    barrier = threading.Barrier(20, timeout=30)
    added = [None] * 20

    def run(i):
        try:
            barrier.wait()
            added[i] = calls.generate_for_campaign(campaign.pk).added
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(added) == 30, added
    members = CampaignMember.objects.filter(campaign=campaign)
    assert members.filter(caller=alice).count() == 15
    assert members.filter(caller=bob).count() == 15


def test_a_manager_ticks_the_chosen_group_on_the_campaign_page(web, store_a, team_a1, sue, alice):
    group = launched_campaign(store_a, team=team_a1, members=3, call_target="group")
    chosen = list(group.members.order_by("pk")[:2])
    page = web(sue).get(f"/campaigns/{group.pk}/").content.decode()
    assert 'data-testid="call-group-form"' in page
    assert page.count('name="member"') == 3
    response = web(sue).post(
        f"/campaigns/{group.pk}/calls/", {"member": [str(m.pk) for m in chosen]}
    )
    assert response.status_code == 302
    assert set(group.members.filter(caller__isnull=False).values_list("pk", flat=True)) == {
        m.pk for m in chosen
    }
    # On a list already: no box to tick again.
    assert web(sue).get(f"/campaigns/{group.pk}/").content.decode().count('name="member"') == 1
    # Nothing ticked: nothing changes, and the page says why.
    web(sue).post(f"/campaigns/{group.pk}/calls/", {})
    assert group.members.filter(caller__isnull=False).count() == 2


def test_an_agent_may_not_post_the_chosen_group(web, store_a, team_a1, alice, mary):
    group = launched_campaign(store_a, team=team_a1, members=1, call_target="group")
    member = group.members.get()
    url = f"/campaigns/{group.pk}/calls/"
    assert web(alice).post(url, {"member": [member.pk]}).status_code == 403
    # Another store's manager: the campaign is outside their scope.
    assert web(mary).post(url, {"member": [member.pk]}).status_code == 404
    member.refresh_from_db()
    assert member.caller_id is None
