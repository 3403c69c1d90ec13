"""The KPI registry (``kpi.metrics.table``): adding a KPI is one entry plus
its SQL, and each KPI has one name on the pages, in the API and in the
workbook."""

import dataclasses
import html
import io
import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy
from openpyxl import load_workbook

from kpi import dashboards, export, grouped
from kpi.api import MetricsSerializer
from kpi.metrics import KPIS, PARTS, PERCENT, Kpi, Scope, compute, drilldown, has_rows
from kpi.metrics.figures import figures_from
from kpi.metrics.rows import received_q
from kpi.metrics.table import COUNTS
from tests.kpi.conftest import OCTOBER, at

pytestmark = pytest.mark.django_db

TODAY = OCTOBER.end
NAME = "web_share"


@pytest.fixture
def register(monkeypatch):
    """``register()``: a throwaway KPI, web leads received ÷ leads received:
    one count (its SQL: the leads received from the web, on the leads'
    base) and one KPI entry, nothing else; both gone after the test."""

    def add():
        web = dataclasses.replace(
            COUNTS["received"],
            name="received_web",
            where=lambda period: received_q(period) & Q(source="web"),
        )
        monkeypatch.setitem(COUNTS, web.name, web)
        kpi = Kpi(
            NAME,
            gettext_lazy("Web share"),
            PERCENT,
            gettext_lazy("Web leads received"),
            ("received_web",),
            gettext_lazy("Leads received"),
            ("received",),
        )
        monkeypatch.setitem(KPIS, NAME, kpi)

    return add


@pytest.fixture
def october_leads(lead, alice, bob):
    """Store A, October: alice received two web leads and a manufacturer's,
    bob a manufacturer's (and a web lead in September)."""
    lead(alice, at(10, 3))
    lead(alice, at(10, 4))
    lead(alice, at(10, 5), source="manufacturer")
    lead(bob, at(10, 6), source="manufacturer")
    lead(bob, at(9, 20))


def _parts(metric):
    return metric.numerator, metric.denominator, metric.value


def test_a_kpi_is_one_entry_plus_its_sql(
    register, october_leads, store_a, alice, bob, mike, web, api
):
    store = Scope("store", store_a.pk)
    with CaptureQueriesContext(connection) as before:
        compute(store, OCTOBER, today=TODAY)
    register()

    # compute: the new count joins its table's query (no query added).
    with CaptureQueriesContext(connection) as after:
        figures = compute(store, OCTOBER, today=TODAY)
    assert len(after) == len(before)
    assert _parts(figures[NAME]) == (2, 4, Decimal("50.00"))
    assert list(figures)[-1] == NAME
    by_agent = {
        pk: compute(Scope("agent", pk), OCTOBER, today=TODAY)[NAME] for pk in (alice.pk, bob.pk)
    }
    assert _parts(by_agent[alice.pk]) == (2, 3, Decimal("66.67"))
    assert _parts(by_agent[bob.pk]) == (0, 1, Decimal("0.00"))

    # Grouped counts, the dashboards' comparison and the monthly figures.
    assert grouped.tables_for([NAME]) == ("leads",)
    counts = grouped.unit_counts("agent", [alice.pk, bob.pk], OCTOBER)
    for pk, expected in by_agent.items():
        assert figures_from(grouped.filled(counts[pk]), expected)[NAME] == expected
    compared = dashboards.compare(store, OCTOBER, "agent", names=(NAME,))
    for row in compared:
        if row["scope"].id in by_agent:
            assert row["figures"][NAME] == by_agent[row["scope"].id]
    stores = grouped.by_store([store_a.pk], OCTOBER, today=TODAY)[store_a.pk]
    assert stores.store[NAME] == figures[NAME]
    assert stores.agents[alice.pk][NAME] == by_agent[alice.pk]

    # Drill-down: the rows behind each part, and the pages listing them.
    assert [has_rows(NAME, part) for part in PARTS] == [True, True]
    assert KPIS[NAME].rows == ("leads", "leads")
    assert drilldown(store, OCTOBER, NAME, "numerator").count() == 2
    assert drilldown(store, OCTOBER, NAME, "denominator").count() == 4
    query = {"s": f"store:{store_a.pk}", "month": "2026-10"}
    page = web(mike).get(reverse("kpi:index"), query).content.decode()
    assert f'data-name="{NAME}"' in page
    drilled = web(mike).get(reverse("kpi:drill", args=[NAME, "numerator"]), query)
    assert drilled.content.decode().count('data-testid="drill-row"') == 2

    # The workbook: a row of the store summary, columns of the agent sheet.
    book = load_workbook(io.BytesIO(export.build_workbook(store_a, "2026-10", today=TODAY)))
    summary = {row[0]: row for row in book["门店汇总"].iter_rows(min_row=3, values_only=True)}
    assert summary["Web share"][1:4] == (2, 4, 0.5)
    agent_header = [cell.value for cell in book["坐席明细"][2]]
    assert {"Web share·分子", "Web share·分母", "Web share"} <= set(agent_header)

    # The API answers it beside the others.
    body = api(mike).get("/api/v1/kpi/", {"month": "2026-10", "scope": "store", "id": store_a.pk})
    assert body.json()["metrics"][NAME] == {"numerator": 2, "denominator": 4, "value": 50.0}


def _page_labels(client, language: str) -> dict[str, str]:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    page = client.get(reverse("kpi:index")).content.decode()
    rows = re.findall(r'data-name="([^"]+)">\s*<td>(.*?)</td>', page, re.S)
    return {name: html.unescape(label).strip() for name, label in rows}


def test_each_kpi_has_one_name_on_pages_api_and_workbook(web, mike, store_a):
    for language in ("zh-hans", "en"):
        pages = _page_labels(web(mike), language)
        with translation.override(language):
            fields = MetricsSerializer().get_fields()
            assert pages == {name: str(kpi.label) for name, kpi in KPIS.items()}, language
            for name, label in pages.items():
                assert str(fields[name].help_text).startswith(f"{label}: "), name
        if language == "zh-hans":
            chinese = pages
    # The workbook is Chinese whoever downloads it, with the pages' names.
    with translation.override("en"):
        book = load_workbook(io.BytesIO(export.build_workbook(store_a, "2026-10", today=TODAY)))
    summary = [row[0] for row in book["门店汇总"].iter_rows(min_row=3, values_only=True)]
    assert summary[: len(KPIS)] == list(chinese.values())
    team_header = {cell.value for cell in book["团队"][2]}
    assert set(chinese.values()) <= team_header
    assert chinese["sla_48h_compliance"] == "48小时首次跟进及时率"
    assert chinese["answered_in_time_rate"] == "三声内接听率"
    assert chinese["deals"] == "客户成交量"


def test_every_kpi_reads_registered_counts_and_the_dashboards_name_kpis():
    for name, kpi in KPIS.items():
        assert kpi.numerator_counts, name
        assert (kpi.unit == "count") == (kpi.denominator is None), name
        for part in PARTS:
            for count in kpi.counts(part):
                assert count.table in (*grouped.TABLES, "meetings"), (name, count.name)
        assert kpi.rows[0] is not None, name  # every numerator lists its rows
    shown = set(dashboards.HEADLINE) | set(dashboards.TREND) | set(dashboards.COMPARED)
    assert shown <= set(KPIS)
