"""An agent works three items of the call queue in Chromium, without a page
load: an overdue follow-up by keyboard, a new manufacturer lead invited to
the store, and tomorrow's visit confirmed."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from dcc.timeutils import local_day_start
from followups import services
from followups.models import Appointment, AppointmentStatus, FollowUp
from leads.models import Lead, Source, Status
from leads.services import lead_create
from tests.factories import VehicleModelFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _outbox_only(settings):
    settings.SMS_BACKEND = "followups.backends.console.OutboxOnlyBackend"


def _at(days, hour):
    return local_day_start(timezone.localdate() + timedelta(days=days)) + timedelta(hours=hour)


def test_agent_works_three_queue_items(alice, mike, connie, login, live_server):
    model = VehicleModelFactory(name="昂科威")
    now = timezone.now()

    def lead(name, phone, **fields):
        return lead_create(
            actor=mike,
            store=mike.store,
            owner=alice,
            name=name,
            phone=phone,
            intended_model=model,
            **fields,
        )

    overdue = lead("逾期客户", "13700000001", source=Source.WEB, level="B")
    Lead.objects.filter(pk=overdue.pk).update(
        status=Status.ACTIVE, next_followup_at=now - timedelta(days=2)
    )
    fresh = lead(
        "厂家客户",
        "13700000002",
        source=Source.MANUFACTURER,
        level="H",
        received_at=now - timedelta(hours=3),
    )
    invited = lead("明日客户", "13700000003", source=Source.WEB, level="A")
    visit = services.appointment_book(actor=mike, lead=invited, scheduled_at=_at(1, 15))
    Lead.objects.filter(pk=invited.pk).update(next_followup_at=now + timedelta(days=5))
    Appointment.objects.filter(pk=visit.pk).update(agent=alice)

    page = login("alice")
    rows = page.get_by_test_id("queue-row")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_have_attribute("data-kind", "overdue")
    expect(rows.nth(1)).to_have_attribute("data-kind", "new")
    expect(rows.nth(2)).to_have_attribute("data-kind", "confirm")
    # 45 hours to the 48-hour deadline, counting down.
    expect(rows.nth(1).get_by_test_id("countdown")).to_contain_text(re.compile(r"4[45]"))
    page.evaluate("window.__sameDocument = true")

    # 1. The overdue follow-up, by keyboard only: 1 = reached, a note, Ctrl+Enter.
    panel = page.get_by_test_id("panel")
    expect(panel).to_have_attribute("data-key", f"overdue-{overdue.pk}")
    page.keyboard.press("1")
    page.locator('textarea[name="followup-note"]').fill("客户说下周末来看车")
    page.keyboard.press("Control+Enter")
    expect(panel).to_have_attribute("data-key", f"new-{fresh.pk}")
    expect(rows).to_have_count(2)
    expect(page.get_by_test_id("message")).to_contain_text("逾期客户")

    # 2. The new lead: invited to the store; the visit fields appear for that result only.
    visit_time = page.locator('input[name="followup-scheduled_at"]')
    expect(visit_time).to_be_hidden()
    page.keyboard.press("3")
    expect(visit_time).to_be_visible()
    when = _at(2, 14)
    visit_time.fill(timezone.localtime(when).strftime("%Y-%m-%dT%H:%M"))
    page.locator('select[name="followup-receiver"]').select_option(str(connie.pk))
    page.get_by_test_id("save-followup").click()
    expect(panel).to_have_attribute("data-key", f"confirm-{visit.pk}")
    expect(rows).to_have_count(1)

    # 3. Tomorrow's visit: the customer confirms.
    page.get_by_test_id("submit-confirm").click()
    expect(page.get_by_test_id("panel-empty")).to_be_visible()
    expect(page.get_by_test_id("queue-empty")).to_be_visible()

    assert page.evaluate("window.__sameDocument") is True  # no page load on the way
    first = FollowUp.objects.get(lead=overdue)
    assert (first.result, first.note, first.agent) == ("reached", "客户说下周末来看车", alice)
    booked = Appointment.objects.get(lead=fresh)
    assert (booked.scheduled_at, booked.receiver, booked.agent) == (when, connie, alice)
    assert Lead.objects.get(pk=fresh.pk).status == Status.INVITED
    assert Lead.objects.get(pk=fresh.pk).sla_met_at is not None
    visit.refresh_from_db()
    assert visit.status == AppointmentStatus.CONFIRMED
