"""Issue 20, point 1, in Chromium: the lead page arrives with the open tab's
form only; another tab's form is fetched (htmx) when the tab is first
opened, and works like the first (posted by htmx, the panel re-rendered);
so does a pending visit's action's form."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from followups.models import AppointmentStatus
from followups.services import appointment_book
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


def test_a_visits_form_comes_when_its_action_is_opened(alice, login, page, live_server):
    """A pending visit's actions arrive without their forms; opening one
    fetches its form (htmx), which posts as before."""
    lead = lead_create(
        actor=alice, store=alice.store, name="到店按需", phone="13700000032", source=Source.WEB
    )
    visit = appointment_book(
        actor=alice, lead=lead, scheduled_at=timezone.now() + timedelta(days=1)
    )
    login("alice")
    fetched = []
    arrive_url = f"/followups/appointments/{visit.pk}/arrive/"
    page.on("request", lambda req: fetched.append(req.url) if arrive_url in req.url else 0)
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    arrive = page.get_by_test_id("appointment-arrive")
    expect(arrive.locator(f"[name='appt{visit.pk}-group_size']")).to_have_count(0)
    assert fetched == []

    arrive.locator("summary").click()
    group_size = arrive.locator(f"[name='appt{visit.pk}-group_size']")
    expect(group_size).to_be_visible()
    assert len(fetched) == 1
    group_size.fill("3")
    arrive.get_by_test_id("submit-arrive").click()
    expect(page.locator('[data-testid="appointment"][data-status="arrived"]')).to_have_count(1)
    visit.refresh_from_db()
    assert (visit.status, visit.group_size) == (AppointmentStatus.ARRIVED, 3)
