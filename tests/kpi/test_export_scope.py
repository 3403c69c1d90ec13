"""Pay only to whom it belongs (issue "Hold under attack and faults", point 2):
every KPI workbook holds only what its reader may see on the KPI pages. A
supervisor's is their team's (no store summary, no other team's row, pay or
agents, channel counts over the team's rows), never the kept store file; a
manager's the store's; another store's answers 404.
"""

from datetime import date

import pytest
from django.core.files.storage import default_storage

from kpi import export
from kpi.metrics import KPIS, Scope, compute
from kpi.metrics.rows import leads, received_q
from tests.kpi.conftest import OCTOBER, workbook_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

EXPORT_API = "/api/v1/kpi/export/"


def _downloads(api, web, user, params):
    """The workbook from the API and from the page, each read back."""
    return [
        workbook_of(api(user).get(EXPORT_API, params)),
        workbook_of(web(user).get("/kpi/export/", params)),
    ]


def _values(book) -> set:
    return {
        cell.value
        for sheet in book.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if cell.value is not None
    }


def _column(sheet, index: int) -> list:
    """A sheet's first block's values in column ``index`` under the header."""
    values = []
    for row in list(sheet.iter_rows(min_row=3, values_only=True)):
        if not any(v is not None for v in row):
            break
        values.append(row[index])
    return values


def test_a_supervisor_gets_only_their_teams_workbook(
    october_activity, api, web, sue, alice, bob, carol, dave, team_a1, team_a2, store_a
):
    params = {"month": "2026-10", "store": store_a.pk}
    for book in _downloads(api, web, sue, params):
        assert book.sheetnames == ["团队汇总", "团队", "坐席明细", "渠道统计"]
        # Their team's row only: not team A2's, its scorecard or pay.
        assert _column(book["团队"], 0) == [team_a1.name]
        # Their team's members only.
        assert set(_column(book["坐席明细"], 1)) == {
            alice.display_name,
            bob.display_name,
            sue.display_name,
        }
        values = _values(book)
        assert team_a2.name not in values
        assert carol.display_name not in values
        assert dave.display_name not in values
        # The channel sheet counts the team's leads, not the store's.
        counted = sum(_column(book["渠道统计"], 2))
        team_leads = leads(Scope("team", team_a1.pk)).filter(received_q(OCTOBER)).count()
        assert counted == team_leads
        assert counted < leads(Scope("store", store_a.pk)).filter(received_q(OCTOBER)).count()
        # The first sheet is the team's figures, as the KPI page shows them.
        rows = book["团队汇总"].iter_rows(min_row=3, values_only=True)
        summary = {row[0]: row[1] for row in rows}
        figures = compute(Scope("team", team_a1.pk), OCTOBER)
        for name, kpi in KPIS.items():
            if "meetings" not in kpi.tables:
                assert summary[export.zh_label(name)] == figures[name].numerator, name


def test_a_manager_gets_the_whole_store(october_activity, api, web, mike, carol, team_a2, store_a):
    for book in _downloads(api, web, mike, {"month": "2026-10", "store": store_a.pk}):
        assert book.sheetnames == list(export.SHEETS)
        assert team_a2.name in _column(book["团队"], 0)
        assert carol.display_name in _column(book["坐席明细"], 1)


def test_a_supervisor_is_never_served_the_kept_store_file(
    api, web, sue, mike, carol, team_a2, store_a
):
    export.generate_monthly(store_a, "2026-09", today=date(2026, 10, 2))
    assert default_storage.exists("kpi-exports/A01/2026-09.xlsx")
    params = {"month": "2026-09", "store": store_a.pk}
    for book in _downloads(api, web, sue, params):
        assert book.sheetnames[0] == "团队汇总"
        assert team_a2.name not in _values(book)
        assert carol.display_name not in _values(book)
    response = web(sue).get("/kpi/export/", params)
    # The team's file name, not the store's.
    assert f"DCC-KPI-A01-T{sue.team_id}-2026-09.xlsx" in response["Content-Disposition"]
    for book in _downloads(api, web, mike, params):
        assert book.sheetnames[0] == "门店汇总"
    # Keeping a store's workbook is a store-level act.
    assert web(sue).post("/kpi/exports/", params).status_code == 403


def test_another_stores_reader_gets_404(api, web, mary, sue, store_a, store_b):
    assert api(mary).get(EXPORT_API, {"month": "2026-10", "store": store_a.pk}).status_code == 404
    assert (
        web(sue).get("/kpi/export/", {"month": "2026-10", "store": store_b.pk}).status_code == 404
    )
