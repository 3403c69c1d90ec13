"""A manager opens the dashboard in Chromium: Chart.js (vendored, no CDN)
draws the charts beside their tables, and a number leads to the rows it
counts, and the manager downloads the month's Excel workbook from it."""

import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from openpyxl import load_workbook
from playwright.sync_api import expect

from leads.models import Channel, Source
from leads.services import lead_create
from tests.factories import VehicleModelFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHANGHAI = ZoneInfo("Asia/Shanghai")


def october(day, hour=12):
    return datetime(2026, 10, day, hour, tzinfo=SHANGHAI)


def test_manager_opens_the_dashboard_drills_into_a_number_and_downloads_the_workbook(
    mike, alice, bob, login, live_server, page
):
    model = VehicleModelFactory(name="昂科威")
    # A browser test's transactions flush the data migrations' rows.
    autohome, _ = Channel.objects.get_or_create(code="autohome", defaults={"label": "汽车之家"})

    def lead(owner, phone, received, **fields):
        return lead_create(
            actor=mike,
            store=mike.store,
            name=f"客户{phone[-2:]}",
            phone=phone,
            source=Source.WEB,
            intended_model=model,
            owner=owner,
            received_at=received,
            **fields,
        )

    october_leads = [
        lead(alice, "13900000001", october(1, 0), channel=autohome),
        lead(alice, "13900000002", october(15)),
        lead(bob, "13900000003", october(31, 23)),
    ]
    lead(bob, "13900000004", datetime(2026, 9, 30, 23, tzinfo=SHANGHAI), channel=autohome)

    page = login("mike")
    page.goto(f"{live_server.url}{reverse('kpi:dashboard')}?month=2026-10")
    expect(page.get_by_test_id("page-title")).to_be_visible()
    # Chart.js came from our own static files and drew the charts.
    assert page.evaluate("typeof window.Chart") == "function"
    for name in ("headline", "trend", "channels", "defeats"):
        expect(page.locator(f'canvas[data-chart="{name}"]')).to_have_attribute("data-drawn", "true")
    # Each chart has its table beside it.
    row = page.locator('[data-testid="headline-row"][data-name="new_leads"]')
    expect(row.locator('[data-col="current"]')).to_have_text("3")
    expect(page.get_by_test_id("trend-row")).to_have_count(12)
    expect(page.locator('[data-testid="compare-row"]').first).to_be_visible()

    # Click "leads received: 3": the KPI drill-down lists exactly those leads.
    row.get_by_test_id("headline-link").click()
    page.wait_for_url("**/kpi/drill/new_leads/numerator/**")
    expect(page.get_by_test_id("drill-row")).to_have_count(3)
    for item in october_leads:
        expect(page.locator(f'a[href="{reverse("desk:lead", args=[item.pk])}"]')).to_have_count(1)

    # Back on the dashboard, the channel table's number lists October's autohome lead.
    page.go_back()
    channel = page.locator(
        f'[data-testid="channel-row"][data-source="web"][data-key="{autohome.pk}"]'
    )
    expect(channel.locator('[data-col="leads"] a')).to_have_text("1")
    # Each count carries its 环比 and 同比 (issue 13 point 7).
    expect(channel.locator('[data-col="leads"] [data-change="mom"]')).to_be_visible()
    channel.locator('[data-col="leads"] a').click()
    page.wait_for_url("**/kpi/dashboard/rows/received/**")
    expect(page.get_by_test_id("drill-row")).to_have_count(1)
    expect(page.get_by_test_id("drill-lead")).to_have_text(f"#{october_leads[0].pk}")

    # Back on the dashboard: the month's workbook downloads, and its store
    # summary counts the same three leads.
    page.go_back()
    with page.expect_download() as download_info:
        page.get_by_test_id("export-workbook").click()
    download = download_info.value
    assert download.suggested_filename == f"DCC-KPI-{mike.store.code}-2026-10.xlsx"
    # The saved file has no extension, which openpyxl wants: read its bytes.
    book = load_workbook(io.BytesIO(Path(download.path()).read_bytes()))
    assert book.sheetnames == ["门店汇总", "团队", "坐席明细", "渠道统计"]
    summary = {row[0]: row for row in book["门店汇总"].iter_rows(min_row=3, values_only=True)}
    assert summary["新增线索"][1] == 3
