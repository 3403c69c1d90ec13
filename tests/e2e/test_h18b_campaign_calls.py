"""A caller works a campaign's call list in Chromium: the list is a section
of her desk; each member shows the campaign's script and the vehicle; an
unanswered call moves on to the next member, an interested customer becomes
a lead with the vehicle as trade-in and is invited to the store event; then
the door checks the guest in on a phone-sized screen."""

import pytest
from playwright.sync_api import expect

from followups.campaigns import calls
from followups.campaigns.models import CampaignMember
from followups.campaigns.models_outreach import EventInvitation
from leads.models import Source
from tests.campaign_helpers import launched_campaign, make_event

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _outbox_only(settings):
    settings.SMS_BACKEND = "followups.backends.console.OutboxOnlyBackend"


def test_caller_works_the_campaign_list(store_a, team_a1, alice, mike, connie, login, live_server):
    campaign = launched_campaign(store_a, team=team_a1, members=3, name="老客户置换季")
    calls.generate_for_campaign(campaign.pk)
    first, second, third = CampaignMember.objects.filter(campaign=campaign).order_by("pk")
    event = make_event(mike, store_a)

    page = login("alice")
    section = page.get_by_test_id("campaign-calls")
    expect(section.get_by_test_id("campaign-calls-count")).to_have_text("3")
    section.get_by_test_id("campaign-call-row").first.get_by_role("link").click()

    expect(page.get_by_test_id("page-title")).to_have_text(first.customer.name)
    expect(page.get_by_test_id("call-script")).to_contain_text("老客户置换补贴")
    expect(page.get_by_test_id("member-vehicle")).to_contain_text("君越")
    page.get_by_test_id("outcome-no_answer").click()

    # The next member opens by itself.
    expect(page.get_by_test_id("page-title")).to_have_text(second.customer.name)
    page.get_by_role("textbox").first.fill("想换七座车")
    page.get_by_test_id("outcome-interested").click()
    expect(page.get_by_test_id("page-title")).to_have_text(third.customer.name)

    # Back to the interested customer (from the lead it made) to invite them.
    second.refresh_from_db()
    lead = second.lead
    assert lead.source == Source.REPURCHASE
    assert lead.trade_in == second.vehicle
    assert lead.owner == alice
    assert lead.note == "想换七座车"
    page.goto(f"{live_server.url}/followups/campaign-calls/{second.pk}/")
    expect(page.get_by_test_id("call-closed")).to_be_visible()
    page.get_by_test_id("invite-event").select_option(str(event.pk))
    page.get_by_test_id("invite-rsvp").select_option("yes")
    page.get_by_test_id("invite-submit").click()
    expect(page.get_by_test_id("member-invitation")).to_contain_text("春季试驾日")

    first.refresh_from_db()
    assert (first.call_attempts, first.call_outcome) == (1, "")
    # The first member's retry is not due yet: the desk shows the third only.
    page.goto(f"{live_server.url}/")
    expect(page.get_by_test_id("campaign-calls-count")).to_have_text("1")

    # At the door, on a phone.
    page.set_viewport_size({"width": 390, "height": 844})
    login("connie")
    page.goto(f"{live_server.url}/campaigns/events/{event.pk}/door/")
    page.get_by_test_id("door-search").fill(second.phone[-4:])
    guest = page.get_by_test_id("door-guest")
    expect(guest).to_have_count(1)
    expect(guest).to_contain_text(second.customer.name)
    box = guest.get_by_test_id("door-check-in").bounding_box()
    assert box["height"] >= 44  # a thumb's target
    guest.get_by_test_id("door-check-in").click()
    expect(page.get_by_test_id("door-arrived")).to_be_visible()
    assert EventInvitation.objects.get(event=event).checked_in_by == connie
