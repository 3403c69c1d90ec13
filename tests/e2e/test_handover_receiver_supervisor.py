"""Issue 13 in Chromium: a caller books a visit in mode two and the DCC
agent owns the lead; a consultant opens the lead of the visit they receive;
a supervisor reassigns an escalated lead of the team."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from dcc.timeutils import local_day_start
from followups import services
from followups.models import Appointment, AppointmentStatus, FollowupPolicy, HandoverMode
from leads.models import Lead
from leads.services import lead_create

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _outbox_only(settings):
    settings.SMS_BACKEND = "followups.backends.console.OutboxOnlyBackend"


def _at(days, hour):
    return local_day_start(timezone.localdate() + timedelta(days=days)) + timedelta(hours=hour)


def _lead(actor, owner, name, phone):
    return lead_create(
        actor=actor, store=actor.store, owner=owner, name=name, phone=phone, source="web"
    )


def test_a_caller_books_in_mode_two_and_the_agent_owns(carol, alice, mike, login, live_server):
    policy = FollowupPolicy.objects.for_store(carol.store)
    policy.handover_mode = HandoverMode.HAND_OVER
    policy.save()
    lead = _lead(mike, carol, "外呼客户", "13700000011")
    page = login("carol")
    page.goto(f"{live_server.url}/leads/{lead.pk}/?action=book")
    when = timezone.localtime(_at(2, 15)).strftime("%Y-%m-%dT%H:%M")
    page.locator('[name="book-scheduled_at"]').fill(when)
    page.locator('[name="book-receiver"]').select_option(str(alice.pk))
    page.get_by_test_id("submit-book").click()
    # The caller still reads the lead while the visit is on, no longer works it.
    expect(page.get_by_test_id("receiving-only")).to_be_visible()
    expect(page.get_by_test_id("lead-actions")).to_have_count(0)
    lead.refresh_from_db()
    assert lead.owner == alice
    assert Appointment.objects.get(lead=lead).agent == carol
    page = login("alice")
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    expect(page.get_by_test_id("lead-actions")).to_be_visible()
    expect(page.locator('[data-event="leads.lead.handed_over"]')).to_have_count(1)


def test_a_consultant_opens_the_lead_of_their_visit(alice, connie, login, live_server):
    lead = _lead(alice, alice, "到店客户", "13700000012")
    visit = services.appointment_book(
        actor=alice, lead=lead, scheduled_at=timezone.now() + timedelta(hours=1), receiver=connie
    )
    page = login("connie")
    expect(page.get_by_test_id("home-title")).to_be_visible()
    page.get_by_test_id("arrival-lead").first.click()
    page.wait_for_url(f"{live_server.url}/leads/{lead.pk}/")
    expect(page.get_by_test_id("receiving-only")).to_be_visible()
    expect(page.get_by_test_id("lead-actions")).to_have_count(0)
    arrive = page.get_by_test_id("appointment-arrive")
    arrive.locator("summary").click()
    arrive.get_by_test_id("submit-arrive").click()
    expect(page.locator('[data-testid="appointment"][data-status="arrived"]')).to_have_count(1)
    visit.refresh_from_db()
    assert visit.status == AppointmentStatus.ARRIVED
    lead.refresh_from_db()
    assert lead.owner == alice


def test_a_supervisor_reassigns_an_escalated_lead(sue, alice, bob, mike, login, live_server):
    lead = _lead(mike, alice, "打不通", "13700000013")
    Lead.objects.filter(pk=lead.pk).update(escalated_at=timezone.now(), unanswered_attempts=3)
    page = login("sue")
    row = page.locator(f'[data-testid="escalated-row"][data-lead-id="{lead.pk}"]')
    row.get_by_test_id("escalated-reassign").click()
    page.locator('[name="assign-owner"]').select_option(str(bob.pk))
    page.locator('[name="assign-reason"]').fill("alice 休假")
    page.get_by_test_id("submit-assign").click()
    expect(page.locator('[data-event="leads.lead.assigned"]')).to_have_count(1)
    lead.refresh_from_db()
    assert lead.owner == bob
    assert lead.escalated_at is None
