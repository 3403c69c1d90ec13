"""Issue 20, point 1, in Chromium: the lead page arrives with the open tab's
form only; another tab's form is fetched (htmx) when the tab is first
opened, and works like the first (posted by htmx, the panel re-rendered)."""

import pytest
from playwright.sync_api import expect

from leads.models import Lead, Source
from leads.services import lead_create

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_tabs_form_comes_when_the_tab_is_opened(alice, login, page, live_server):
    lead = lead_create(
        actor=alice, store=alice.store, name="按需客户", phone="13700000031", source=Source.WEB
    )
    login("alice")
    fetched = []
    level_url = f"/leads/{lead.pk}/level/"
    page.on("request", lambda req: fetched.append(req.url) if req.url.endswith(level_url) else 0)
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    expect(page.get_by_test_id("action-form-followup")).to_be_visible()
    level = page.get_by_test_id("action-level")
    expect(level.get_by_test_id("action-loading")).to_have_count(1)
    expect(page.get_by_test_id("action-form-level")).to_have_count(0)
    assert fetched == []

    page.get_by_test_id("tab-level").click()
    form = page.get_by_test_id("action-form-level")
    expect(form).to_be_visible()
    assert len(fetched) == 1
    form.locator("select[name='level-level']").select_option("H")
    form.locator("[name='level-reason']").fill("下周提车")
    form.get_by_test_id("submit-level").click()
    expect(page.get_by_test_id("lead-panel")).to_contain_text("下周提车")
    lead.refresh_from_db()
    assert lead.level == "H"
    # The panel came back re-rendered: its tabs fetch their forms afresh.
    page.get_by_test_id("tab-level").click()
    expect(page.get_by_test_id("action-form-level")).to_be_visible()
    assert Lead.objects.get(pk=lead.pk).level == "H"
