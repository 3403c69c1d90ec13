"""A manager writes a distribution rule in Chromium and previews it on the
last leads (a dry run): the preview names who would get each lead, and
nothing is written."""

import pytest
from playwright.sync_api import expect

from leads.models import DistributionRule, Lead, Source
from leads.services import lead_create

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_manager_writes_a_rule_and_previews_it(mike, alice, bob, login, live_server):
    leads = [
        lead_create(
            actor=mike,
            store=mike.store,
            name=f"网络客户{i}",
            phone=f"1370000{i:04d}",
            source=Source.WEB,
        )
        for i in range(4)
    ]
    page = login("mike")
    page.goto(f"{live_server.url}/leads/distribution/")
    form = page.get_by_test_id("rule-form")
    form.locator("#id_name").fill("网络线索轮询")
    form.locator('input[name="sources"][value="web"]').check()
    form.locator(f"#staff-{alice.pk}").check()
    form.locator(f"#staff-{bob.pk}").check()
    form.locator("#id_method").select_option("round_robin")
    page.get_by_test_id("save-rule").click()

    expect(page.get_by_test_id("rules")).to_contain_text("网络线索轮询")
    rule = DistributionRule.objects.get(name="网络线索轮询")
    assert set(rule.targets.values_list("staff_id", flat=True)) == {alice.pk, bob.pk}
    assert rule.sources == [Source.WEB]

    page.get_by_test_id("preview-rule").click()
    preview = page.get_by_test_id("preview")
    expect(preview).to_be_visible()
    cells = page.get_by_test_id("would-go-to")
    expect(cells).to_have_count(4)
    names = cells.all_inner_texts()
    # Round robin over the two, oldest lead first (the table lists newest first).
    assert names[::-1] == [alice.display_name, bob.display_name] * 2
    # A dry run: the leads are still unassigned and the pointer did not move.
    assert not Lead.objects.filter(pk__in=[lead.pk for lead in leads], owner__isnull=False).exists()
    rule.refresh_from_db()
    assert rule.last_staff_id is None
