"""Issue 13, point 6, in Chromium: the booking form shows the customer's
exact SMS as it is filled in (htmx), before anything is saved."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from followups.models import Appointment
from leads.models import Source
from leads.services import lead_create

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_booking_form_previews_the_customers_text(alice, login, page, live_server):
    lead = lead_create(
        actor=alice, store=alice.store, name="预览客户", phone="13700000021", source=Source.WEB
    )
    login("alice")
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    page.get_by_test_id("tab-book").click()
    form = page.get_by_test_id("action-book")
    preview = form.get_by_test_id("sms-preview")
    expect(preview).to_contain_text("选择到店时间")
    when = timezone.localtime() + timedelta(days=2)
    form.locator("[name='book-scheduled_at']").fill(when.strftime("%Y-%m-%dT10:00"))
    form.locator("select[name='book-visit_type']").select_option("delivery")
    customer = preview.get_by_test_id("sms-preview-booking_customer")
    expect(customer).to_contain_text("预览客户您好")
    expect(customer).to_contain_text("提车")
    expect(customer).not_to_contain_text("其他")
    assert not Appointment.objects.filter(lead=lead).exists()  # nothing saved yet
