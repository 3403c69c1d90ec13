"""Writing the monthly workbook fast changes none of its content (issue 20,
point 4): ``kpi.export.write_workbook`` (rows typed and styled by
``dcc.xlsx.streamed`` on ``dcc.xlsx.cells_only`` sheets) writes the same
bytes in every part of the ``.xlsx`` (sheets, cells, values, types, styles,
widths, frozen panes, shared strings, styles part) as the plain way it was
written before: each value as Excel stores it (``export._excel``) in a cell
of its own from ``dcc.xlsx.cell``, appended through openpyxl's own
``append``, the widths measured value by value. Only ``docProps/core.xml``
(the time of writing) is left out of the comparison.
"""

import io
import zipfile
from datetime import date
from decimal import Decimal
from enum import IntEnum

import pytest
from django.utils.safestring import mark_safe
from openpyxl import Workbook

from dcc import xlsx
from kpi import export, grouped
from kpi.export import DECIMAL, HEADER, INTEGER, RATE, TEXT, TITLE, Column, Styled
from kpi.metrics import Period, Scope
from tests.kpi.test_export import TODAY, scenario  # noqa: F401 (a fixture)


def _widest_before(cells):
    """``export._widest`` as it was: every cell's (value, style) measured."""
    width, extremes = 0, {}
    for value, style in cells:
        if value is None:
            continue
        if style == TEXT or not isinstance(value, int | float | Decimal):
            width = max(width, export._width(export._shown(value, style)))
            continue
        low, high = extremes.get(style, (value, value))
        extremes[style] = (min(low, value), max(high, value))
    for style, pair in extremes.items():
        width = max(width, *(export._width(export._shown(value, style)) for value in pair))
    return width


def _write_before(sheets) -> bytes:
    """The workbook written the plain way (module doc)."""
    workbook = Workbook(write_only=True)
    export._styles(workbook)
    for page, frozen_columns in sheets:
        sheet = workbook.create_sheet(page.title)
        widths = {}
        for columns, rows in page.blocks:
            for index, column in enumerate(columns):
                widths[index] = max(
                    widths.get(index, 0),
                    export._width(column.header),
                    _widest_before([export._split(row[index], column.style) for row in rows]),
                )
        for index, width in widths.items():
            sheet.column_dimensions[export._letter(index)].width = min(width + 2, export.MAX_WIDTH)
        sheet.freeze_panes = f"{export._letter(frozen_columns)}3"
        sheet.append([xlsx.cell(sheet, page.caption, TITLE)])
        for number, (columns, rows) in enumerate(page.blocks):
            if number:
                sheet.append([])
            sheet.append([xlsx.cell(sheet, column.header, HEADER) for column in columns])
            for row in rows:
                cells = []
                for value, column in zip(row, columns, strict=True):
                    value, style = export._split(value, column.style)
                    cells.append(xlsx.cell(sheet, export._excel(value, style), style))
                sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {
            name: archive.read(name)
            for name in archive.namelist()
            if name != "docProps/core.xml"  # when it was written
        }


def assert_same_workbook(sheets):
    before, after = _parts(_write_before(sheets)), _parts(export.write_workbook(sheets))
    assert sorted(after) == sorted(before)
    for name, content in before.items():
        assert after[name] == content, name


class Level(IntEnum):
    HIGH = 3


def _edge_sheets():
    """Every kind of value a cell of each style can hold, twice over (the
    refilled cells), in blocks of different widths."""
    summary = export._Sheet("门店汇总", "浦东店（A01） 2026-10 DCC 门店汇总")
    texts = ["=SUM(A1:A2)", "+86 139", "-5", "@all", "\ttab", "\rreturn", "#N/A", "a\x01b\x1fc"]
    texts += ["浦东店 全角　空格", "", mark_safe("safe <b>"), "x" * 80]
    columns = [Column("名称"), Column("数", INTEGER), Column("率", RATE), Column("日均", DECIMAL)]
    rows = []
    for number, text in enumerate(texts):
        rows.append([text, number * 1_234_567 - 3, Decimal("66.67") * number, Decimal("0.125")])
    rows += [
        [None, None, None, None],
        ["负数", -12, Decimal("-5.50"), -0.5],
        ["整数与浮点", 7.0, 100, 3],
        ["另一样式", Styled(Decimal("1.5"), DECIMAL), Styled(None, RATE), Styled(9, INTEGER)],
        ["布尔与枚举", True, Styled(Level.HIGH, INTEGER), False],
        [date(2026, 10, 31), Level.HIGH, Decimal("0"), Decimal("1234567.891")],
        [None, 0, 0.0, None],
    ]
    summary.block(columns, rows)
    summary.block([Column("车型类别"), Column("成交台数", INTEGER)], [["SUV", 3], [None, None]])
    summary.block([Column("空")], [])
    agents = export._Sheet("坐席明细", "标题")
    agents.block(
        [Column("团队"), Column("坐席"), *[Column(f"指标{n}", INTEGER) for n in range(30)]],
        [[f"A{n}", f"坐席{n}", *range(n, n + 30)] for n in range(40)],
    )
    return [(summary, 0), (agents, 3)]


def test_every_kind_of_value_is_written_as_before():
    assert_same_workbook(_edge_sheets())


@pytest.mark.django_db
@pytest.mark.parametrize("whose", ["store", "team"])
def test_a_store_and_a_team_workbook_are_written_as_before(scenario, store_a, team_a1, whose):  # noqa: F811
    team = team_a1 if whose == "team" else None
    period = Period.month(2026, 10)
    figures = grouped.by_store([store_a.pk], period, today=TODAY)[store_a.pk]
    rows_of = Scope("team", team.pk) if team else Scope("group")
    channels = export._channel_counts([store_a.pk], period, rows_of).get(store_a.pk, {})
    models = export._model_counts([store_a.pk], period, rows_of).get(store_a.pk, {})
    sheets = export.workbook_sheets(
        store_a, period, figures, channels, models, "2026-11-01 01:00", team
    )
    assert sum(len(rows) for sheet, _f in sheets for _c, rows in sheet.blocks) > 10
    assert_same_workbook(sheets)


def test_a_cells_only_sheet_still_takes_plain_values():
    """Values appended as they are get openpyxl's own cells (None left out),
    beside ``dcc.xlsx`` cells, as on any write-only sheet."""

    def book(cells_only: bool) -> dict[str, bytes]:
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("s")
        if cells_only:
            xlsx.cells_only(sheet)
        sheet.append([1, None, "text", 2.5, date(2026, 1, 2), True, xlsx.cell(sheet, "=1")])
        sheet.append([])
        sheet.append([None, xlsx.cell(sheet, None), xlsx.cell(sheet, 3)])
        buffer = io.BytesIO()
        workbook.save(buffer)
        return _parts(buffer.getvalue())

    assert book(True) == book(False)


def test_a_row_of_the_wrong_length_is_refused():
    sheet = export._Sheet("s", "t")
    sheet.block([Column("a"), Column("b", INTEGER)], [["x", 1], ["y"]])
    with pytest.raises(ValueError, match="columns"):
        export.write_workbook([(sheet, 0)])
