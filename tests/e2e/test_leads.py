"""The lead pages in Chromium: the manager's round robin and an agent's new
lead with its duplicate. Locators are ``data-testid`` hooks (the new labels are
not translated yet), assertions on the page's data and the database."""

import re
from datetime import timedelta
from itertools import pairwise

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from leads.models import Lead, Source
from leads.services import lead_create
from tests.factories import VehicleModelFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def manufacturer_leads(mike, n):
    """n unassigned OEM leads issued 1, 2, … hours ago (oldest deadline last)."""
    model = VehicleModelFactory(name="昂科威")
    now = timezone.now()
    return [
        lead_create(
            actor=mike,
            store=mike.store,
            name=f"厂家客户{i}",
            phone=f"1370000{i:04d}",
            source=Source.MANUFACTURER,
            intended_model=model,
            received_at=now - timedelta(hours=i + 1),
        )
        for i in range(n)
    ]


def test_manager_round_robins_manufacturer_leads(mike, alice, bob, carol, login, live_server):
    leads = manufacturer_leads(mike, 5)
    picked = leads[:4]
    page = login("mike")
    page.goto(f"{live_server.url}/leads/assign/")
    expect(page.get_by_test_id("unassigned-row")).to_have_count(5)
    for lead in picked:
        page.locator(f'[data-testid="pick-lead"][value="{lead.pk}"]').check()
    page.get_by_test_id("owner-alice").check()
    page.get_by_test_id("owner-bob").check()
    page.locator('input[name="mode"][value="round_robin"]').check()
    page.locator('#section-unassigned input[name="reason"]').fill("上午分配")
    page.get_by_test_id("bulk-submit").click()

    result = page.get_by_test_id("bulk-result")
    expect(result).to_have_attribute("data-count", "4")
    expect(page.get_by_test_id("bulk-result-owner")).to_have_count(2)
    expect(page.get_by_test_id("unassigned-row")).to_have_count(1)
    assert page.url == f"{live_server.url}/leads/assign/"

    owners = list(
        Lead.objects.filter(pk__in=[lead.pk for lead in picked])
        .order_by("first_contact_due", "id")
        .values_list("owner_id", flat=True)
    )
    assert set(owners) == {alice.pk, bob.pk}
    assert all(a != b for a, b in pairwise(owners))
    assert Lead.objects.get(pk=leads[4].pk).owner is None


def test_agent_enters_a_lead_then_the_same_phone_again(alice, login, live_server):
    page = login("alice")
    page.goto(f"{live_server.url}/leads/new/")
    form = page.get_by_test_id("new-lead-form")
    expect(form.locator('input[name="name"]')).to_be_focused()
    form.locator('input[name="name"]').fill("陈大文")
    form.locator('input[name="phone"]').fill("138 2222 3333")
    form.locator('select[name="source"]').select_option("web")
    form.locator('select[name="level"]').select_option("A")
    form.locator('textarea[name="note"]').fill("想看 GL8")
    page.get_by_test_id("save").click()

    page.wait_for_url(re.compile(r"/leads/\d+/$"))
    lead = Lead.objects.get()
    assert page.url == f"{live_server.url}/leads/{lead.pk}/"
    expect(page.get_by_test_id("customer-name")).to_have_text("陈大文")
    expect(page.get_by_test_id("lead-phone")).to_contain_text("138 2222 3333")
    assert lead.owner == alice

    page.goto(f"{live_server.url}/leads/new/")
    form = page.get_by_test_id("new-lead-form")
    form.locator('input[name="name"]').fill("陈小文")
    form.locator('input[name="phone"]').fill("13822223333")
    page.get_by_test_id("save").click()

    errors = page.get_by_test_id("form-errors")
    expect(errors).to_contain_text(f"#{lead.pk}")
    expect(errors.get_by_test_id("duplicate-link")).to_have_attribute("href", f"/leads/{lead.pk}/")
    assert Lead.objects.count() == 1
