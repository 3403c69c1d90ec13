"""Issue 13, point 4, in Chromium: a manager re-activates a defeated lead
on its page and gives it to an agent; the agent's queue shows it at once,
as a lead whose first call is owed, with the transfer rule's deadline."""

import pytest
from playwright.sync_api import expect

from followups import services
from leads.models import Lead, Source
from leads.services import lead_create, lead_defeat
from tests.factories import VehicleModelFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_reactivated_lead_shows_in_the_agents_queue(
    alice, bob, mike, price_reason, login, page, live_server
):
    lead = lead_create(
        actor=mike,
        store=mike.store,
        owner=alice,
        name="战败再激活",
        phone="13700000011",
        source=Source.WEB,
        intended_model=VehicleModelFactory(name="昂科威"),
    )
    services.followup_log(actor=alice, lead=lead, channel="call", result="reached")
    lead_defeat(actor=mike, lead=Lead.objects.get(pk=lead.pk), reason=price_reason)

    login("mike")
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    page.get_by_test_id("tab-activate").click()
    form = page.get_by_test_id("action-activate")
    form.locator("select[name='activate-owner']").select_option(str(bob.pk))
    form.locator("[name='activate-reason']").fill("客户重新询价")
    page.get_by_test_id("submit-activate").click()
    expect(page.get_by_test_id("lead-panel")).to_have_attribute("data-status", "active")

    login("bob")
    row = page.get_by_test_id("queue-row").filter(has_text="战败再激活")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-kind", "new")
    lead.refresh_from_db()
    assert lead.owner == bob
    assert lead.next_followup_at == lead.first_contact_due
