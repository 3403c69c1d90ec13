"""Issue 13 point 9 in a browser: the error pages in the layout with a way
back, and the English navigation on one line at 1440 px."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_missing_page_has_the_layout_and_a_way_back(everyone, login, live_server):
    page = login("alice")
    page.goto(f"{live_server.url}/leads/999999/no-such-thing/")
    expect(page.get_by_test_id("error-page")).to_be_visible()
    expect(page.get_by_test_id("whoami")).to_be_visible()
    page.get_by_test_id("error-home").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_test_id("home-title")).to_have_text("我的工作台")


def test_a_refused_page_in_english_goes_back(everyone, login, live_server):
    page = login("alice")
    page.get_by_label("语言").select_option("en")
    expect(page.get_by_test_id("home-title")).to_have_text("My desk")
    page.evaluate(f"window.location.href = '{live_server.url}/org/'")
    expect(page.get_by_test_id("error-page")).to_have_attribute("data-status", "403")
    expect(page.get_by_test_id("page-title")).to_have_text("Not allowed")
    page.get_by_test_id("error-back").click()
    page.wait_for_url(f"{live_server.url}/")


@pytest.mark.parametrize("username", ["root", "mike", "sue", "alice"])
def test_the_english_navigation_fits_1440_px(everyone, login, username):
    # Names as long as real ones: the bar must still hold on one line.
    user = everyone[username]
    user.name = "Maximilian Alexander Zhang-Williams"
    user.save(update_fields=["name"])
    if user.store:
        user.store.name = "Shanghai Pudong Century Avenue 4S Store"
        user.store.save(update_fields=["name"])
    page = login(username)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.get_by_label("语言").select_option("en")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    nav = page.locator("nav.navbar")
    expect(nav.locator("[data-testid=whoami]")).to_be_visible()
    # One line: the bar is no taller than its brand, and nothing overflows.
    height = nav.evaluate("n => n.getBoundingClientRect().height")
    assert height < 70, height
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    # Log out and the language switch stay on the screen.
    for control in (page.get_by_role("button", name="Log out"), page.get_by_label("Language")):
        box = control.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= 1440
        assert box["y"] < 60


def test_the_queue_does_not_jump_to_the_panel_on_a_phone(alice, mike, login, live_server):
    from datetime import timedelta

    from django.utils import timezone

    from leads.models import Lead, Source, Status
    from leads.services import lead_create

    now = timezone.now()
    for n in range(8):
        lead = lead_create(
            actor=mike,
            store=mike.store,
            owner=alice,
            name=f"客户{n}",
            phone=f"1370000010{n}",
            source=Source.WEB,
        )
        Lead.objects.filter(pk=lead.pk).update(
            status=Status.ACTIVE, next_followup_at=now - timedelta(days=1, minutes=n)
        )
    page = login("alice")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/")
    panel = page.get_by_test_id("panel")
    expect(panel).to_be_attached()
    page.wait_for_timeout(300)
    assert page.evaluate("window.scrollY") == 0
    expect(page.get_by_test_id("queue-row").first).to_be_in_viewport()
    # Opening a row on purpose still brings its panel up.
    page.get_by_test_id("queue-row").nth(3).click()
    expect(panel).to_have_attribute("data-key", re.compile(r"overdue-"))
