"""The strict Content-Security-Policy breaks nothing: the main pages load in
Chromium without a single CSP violation (no inline script, handler or style
left anywhere, htmx adding no <style> of its own)."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from leads.models import Source
from leads.services import lead_create
from tests.factories import VehicleModelFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_main_pages_raise_no_csp_violation(alice, mike, login, live_server, page):
    lead = lead_create(
        actor=mike,
        store=mike.store,
        owner=alice,
        name="王小明",
        phone="13900000001",
        source=Source.WEB,
        intended_model=VehicleModelFactory(name="昂科威"),
    )
    problems = []
    page.on(
        "console",
        lambda message: (
            problems.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    # The browser's own report of each violation, recorded before any page script.
    page.add_init_script(
        "window.__csp = [];"
        "document.addEventListener('securitypolicyviolation', (e) =>"
        " window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
    )

    def check():
        page.wait_for_load_state("networkidle")
        problems.extend(page.evaluate("window.__csp || []"))

    login("alice")
    check()
    for url in (reverse("desk:home"), reverse("desk:lead", args=[lead.pk])):
        response = page.goto(f"{live_server.url}{url}")
        assert response.status == 200, url
        assert "default-src 'self'" in response.headers["content-security-policy"]
        check()

    login("mike")
    page.goto(f"{live_server.url}{reverse('kpi:dashboard')}")
    expect(page.get_by_test_id("page-title")).to_be_visible()
    check()
    assert page.evaluate("typeof window.Chart") == "function"

    assert problems == []
