"""Customer lists leave with people (issue "Hold under attack and faults",
point 11): bulk views and exports of leads are logged with who, when, what
(the filter), how many and which leads; a manager reads their store's log,
the group administrator every store's, nobody else.
"""

import pytest
from django.urls import reverse

from dcc import audit
from dcc.models import AuditEvent
from kpi import metrics
from kpi.metrics import KPIS

pytestmark = pytest.mark.django_db

LOG = "/org/access-log/"


@pytest.fixture
def many_leads(alice, make_lead):
    """As many leads of alice's as make a bulk view."""
    return [make_lead(alice).pk for _ in range(audit.BULK_VIEW_THRESHOLD)]


def _logged(name):
    return list(AuditEvent.objects.filter(name=f"{audit.ACCESS_PREFIX}{name}"))


def test_an_agents_list_view_is_logged(web, alice, store_a, many_leads):
    assert web(alice).get(reverse("leads:list"), {"status": "new"}).status_code == 200
    [event] = _logged("leads.list")
    assert event.actor == alice
    assert event.store == store_a
    assert event.data["query"] == {"status": "new"}
    assert event.data["count"] == len(many_leads)
    assert sorted(event.data["lead_ids"]) == sorted(many_leads)


def test_a_short_list_is_not_a_bulk_view(web, alice, make_lead):
    for _ in range(audit.BULK_VIEW_THRESHOLD - 1):
        make_lead(alice)
    web(alice).get(reverse("leads:list"))
    assert _logged("leads.list") == []


def test_every_lead_api_page_is_logged(api, alice, make_lead):
    lead = make_lead(alice)
    assert api(alice).get("/api/v1/leads/", {"page": 1}).status_code == 200
    [event] = _logged("leads.api_list")
    assert (event.actor, event.data["lead_ids"], event.data["query"]) == (
        alice,
        [lead.pk],
        {"page": "1"},
    )


def test_kpi_drill_down_listing_leads_is_logged(web, mike, alice, many_leads):
    # The follow-up rate's denominator lists the leads received this month.
    assert KPIS["followup_rate"].rows[metrics.PARTS.index("denominator")] == "leads"
    url = reverse("kpi:drill", args=["followup_rate", "denominator"])
    assert web(mike).get(url, {"s": f"agent:{alice.pk}"}).status_code == 200
    [event] = _logged("kpi.drill")
    assert event.actor == mike
    assert sorted(event.data["lead_ids"]) == sorted(many_leads)
    assert event.data["query"]["kpi"] == "followup_rate"


def test_the_kpi_workbook_download_is_logged(api, mike, store_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    response = api(mike).get("/api/v1/kpi/export/", {"month": "2026-09", "store": store_a.pk})
    assert response.status_code == 200
    [event] = _logged("kpi.workbook")
    assert event.actor == mike
    assert event.data["query"] == {"store": store_a.pk, "team": None, "month": "2026-09"}


def test_the_log_page_is_the_managers_store_and_the_admins_all(
    web, alice, sue, mike, mary, root, many_leads
):
    web(alice).get(reverse("leads:list"))
    page = web(mike).get(LOG)
    assert page.status_code == 200
    text = page.content.decode()
    assert 'data-testid="access-log"' in text
    assert "alice" in text
    assert str(many_leads[0]) in text
    assert "alice" in web(root).get(LOG).content.decode()
    # Another store's manager sees nothing of it.
    other = web(mary).get(LOG)
    assert other.status_code == 200
    assert "alice" not in other.content.decode()
    # Agents and supervisors may not read the log.
    assert web(alice).get(LOG).status_code == 403
    assert web(sue).get(LOG).status_code == 403
