"""The monthly Excel workbook of a store (issue 6 item 5; API.md "KPI"), and
the workbooks kept for download.

``build_workbook(store, month)`` answers the ``.xlsx`` bytes
(``build_workbooks(stores, month)`` those of many stores), one sheet per
level:

1. 门店汇总 (store summary): every KPI of ``kpi.metrics`` with its numerator,
   denominator and value (``compute`` of the store), then sales completion
   per vehicle model category.
2. 团队 (teams): one row per team of the store: its supervisor scorecard's
   total, performance pay and commission, then every KPI.
3. 坐席明细 (agent detail): one row per telesales staff member, every KPI;
   showroom consultants (and others with a figure) in a block below, never
   among the agents.
4. 渠道统计 (channel statistics): leads, valid A-cards, calls, visits and deals
   per source and channel with their shares, then leads and deals per
   vehicle model with their shares.

Decisions:

- Headers are Chinese text, like the lead import template
  (``leads.importer.COLUMNS``): the workbook is a Chinese business document
  (issue: "Chinese headers"), read and forwarded as such whatever the
  language of the person who downloads it. A KPI's name and what its parts
  count are the registry's (``KPIS``) rendered in Chinese (``zh``), so the
  workbook names each KPI as the pages and the API do.
- Rates are written as fractions (the percentage ÷ 100) formatted ``0.00%``,
  counts as integers ``#,##0``, per-day figures ``#,##0.00``; a figure
  without a base (``value`` None) is a blank cell, not 0.
- Each sheet: a title row (store, month, when generated), the header row,
  both frozen; column widths from the longest header or value (CJK
  characters count double).
- Speed: the figures of the store, its teams and staff come from
  ``kpi.grouped.by_store`` (a fixed number of grouped queries, not
  ``compute`` per agent), for every store at once when several workbooks
  are built (``build_workbooks``: the job on the 1st); the workbook is
  written by openpyxl in write-only mode, each cell taking its column's
  named style, through ``dcc.xlsx.streamed`` on ``dcc.xlsx.cells_only``
  sheets (one refilled cell per style; no per-value typing by openpyxl):
  at most 1.5× raw openpyxl writing the same values (issue 20,
  ``tests/bench/test_kpi_bench.py``).

Whose figures (issue "Hold under attack and faults", point 2): a workbook
holds only what its reader may see on the KPI pages (``dcc.policy``,
``kpi.selectors.scope_for``). A manager (or an administrator) reads the
store's: the workbook above. A supervisor reads their team and its members
and never the store (the pages offer them no store scope), so
``build_workbook(store, month, team=team)`` answers their team's workbook:

1. 团队汇总 (team summary): the store summary's sheet over the team's
   figures;
2. 团队: their team's row only (its scorecard, pay and commission);
3. 坐席明细: their team's members only;
4. 渠道统计: counted over the team's rows (its members' leads, calls,
   visits and deals), with shares of the team's totals.

Agents, callers and consultants have no ``kpi.export``. The kept files hold
the whole store, so they are served only to a store-level reader
(``kpi.views_export``); a team's workbook is always built on request.

Text (names of staff, teams, stores, channels, vehicle models) goes through
``dcc.xlsx``: always a text cell, never a formula, illegal characters
removed.

Kept workbooks (``generate_monthly``) live in Django's default storage under
``kpi-exports/<store code>/<YYYY-MM>.xlsx`` and are served only through the
scoped views (``kpi.views_export``, ``kpi.api_export``), never as media.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import Count
from django.utils import timezone, translation
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, NamedStyle, PatternFill
from openpyxl.utils import get_column_letter

from dcc import xlsx
from dcc.models import Store, Team, User
from dcc.roles import Role
from dcc.timeutils import local_minute
from kpi import grouped
from kpi.metrics import (
    COUNT,
    KPIS,
    PER_DAY,
    PERCENT,
    Metric,
    Period,
    Scope,
    customer_calls,
    deals,
    leads,
    percent,
    visits,
)
from kpi.metrics.base import without_jit
from kpi.metrics.rows import received_q, valid_a_card_q
from kpi.scorecard import scorecard
from kpi.selectors import MEMBER_ROLES, RANKED_ROLES
from leads.models import Channel, Source

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_DIR = "kpi-exports"
_KEPT_NAME = re.compile(r"^(\d{4})-(\d{2})\.xlsx$")

SHEETS = ("门店汇总", "团队", "坐席明细", "渠道统计")
# A supervisor's workbook: their team's summary in place of the store's.
TEAM_SHEETS = ("团队汇总", *SHEETS[1:])

ZH_ROLES = {
    Role.AGENT: "电话营销专员",
    Role.CALLER: "电话外呼专员",
    Role.SUPERVISOR: "电话营销主管",
    Role.MANAGER: "销售经理",
    Role.CONSULTANT: "展厅销售顾问",
    Role.ADMIN: "系统管理员",
}
ZH_SOURCES = {
    Source.MANUFACTURER: "厂家下发",
    Source.WEB: "网络",
    Source.LOW_INTENT: "低意向及战败转入",
    Source.REPURCHASE: "基盘客户再购",
    Source.INBOUND: "来电",
    Source.WALK_IN: "到店",
}
NO_LEAD = "未关联线索"
NO_CHANNEL = "—"
NO_MODEL = "未填写车型"
NO_TEAM = "（无团队）"

# Named styles (registered once per workbook, then applied by name).
TITLE, HEADER, TEXT, INTEGER, DECIMAL, RATE = (
    "kpi_title",
    "kpi_header",
    "kpi_text",
    "kpi_integer",
    "kpi_decimal",
    "kpi_percent",
)
FORMATS = {INTEGER: "#,##0", DECIMAL: "#,##0.00", RATE: "0.00%"}
MAX_WIDTH = 60


def zh(text) -> str:
    """A (lazy) text of the KPI registry in Chinese, whoever downloads."""
    if not text:
        return ""
    with translation.override("zh-hans"):
        return str(text)


def zh_label(name: str) -> str:
    """The KPI's one name (``KPIS``), in Chinese."""
    return zh(KPIS[name].label)


# ---------------------------------------------------------------- one sheet


@dataclass(frozen=True)
class Column:
    header: str
    style: str = TEXT


@dataclass(frozen=True)
class Styled:
    """A value whose row needs another style than its column's (the store
    summary's value column holds rates, counts and per-day figures)."""

    value: object
    style: str


def _split(value, style: str) -> tuple[object, str]:
    return (value.value, value.style) if isinstance(value, Styled) else (value, style)


class _Sheet:
    """Rows collected first (the widths depend on them), then written."""

    def __init__(self, title: str, caption: str):
        self.title, self.caption = title, caption
        self.blocks: list[tuple[list[Column], list[list]]] = []

    def block(self, columns: list[Column], rows: list[list]) -> None:
        self.blocks.append((columns, rows))

    def write(self, workbook: Workbook, *, frozen_columns: int = 0) -> None:
        sheet = workbook.create_sheet(self.title)
        xlsx.cells_only(sheet)
        # Each row's values (as Excel stores them and as given) and styles,
        # worked out once for the widths and the writing.
        blocks = [(columns, _cells(columns, rows)) for columns, rows in self.blocks]
        widths: dict[int, int] = {}
        for columns, rows in blocks:
            for index, width in enumerate(_column_widths(columns, rows)):
                widths[index] = max(widths.get(index, 0), _width(columns[index].header), width)
        for index, width in widths.items():
            letter = _letter(index)
            sheet.column_dimensions[letter].width = min(width + 2, MAX_WIDTH)
        # 1. The title row and the first header row stay in view.
        sheet.freeze_panes = f"{_letter(frozen_columns)}3"
        sheet.append([_cell(sheet, self.caption, TITLE)])
        for number, (columns, rows) in enumerate(blocks):
            if number:
                sheet.append([])
            headers = [column.header for column in columns]
            sheet.append(xlsx.streamed(sheet, headers, [HEADER] * len(headers)))
            for values, _given, styles in rows:
                sheet.append(xlsx.streamed(sheet, values, styles))


def _letter(index: int) -> str:
    return get_column_letter(index + 1)


def _cell(sheet, value, style: str):
    return xlsx.cell(sheet, value, style)


def _excel(value, style: str):
    """The value as Excel stores it: a rate as a fraction; None stays blank."""
    if value is None:
        return None
    if style == RATE:
        return float(Decimal(value) / 100)
    if style == DECIMAL:
        return float(value)
    return value


def _shown(value, style: str) -> str:
    if value is None:
        return ""
    if style == RATE:
        return f"{Decimal(value):.2f}%"
    if style == INTEGER:
        return f"{int(value):,}"
    if style == DECIMAL:
        return f"{Decimal(value):,.2f}"
    return str(value)


def _cells(columns: list[Column], rows: list[list]) -> list[tuple[list, list, list]]:
    """Per row of a block: its values as Excel stores them (``_excel``), as
    given (what ``_widest`` measures) and their styles (the column's, or a
    ``Styled`` value's own)."""
    styles = [column.style for column in columns]
    cells = []
    for row in rows:
        given, row_styles = row, styles
        if len(row) != len(styles):
            raise ValueError(f"a row of {len(row)} cells under {len(styles)} columns")
        if any(isinstance(value, Styled) for value in row):
            given, row_styles = [], []
            for value, style in zip(row, styles, strict=True):
                value, style = _split(value, style)
                given.append(value)
                row_styles.append(style)
        values = [_excel(value, style) for value, style in zip(given, row_styles, strict=True)]
        cells.append((values, given, row_styles))
    return cells


def _column_widths(columns: list[Column], rows: list[tuple[list, list, list]]) -> list[int]:
    """Per column of a block (its rows as ``_cells`` answers them), the
    widest shown value (``_widest``); the columns taken apart at once."""
    if not rows:
        return [0] * len(columns)
    styles = [column.style for column in columns]
    by_column = zip(*(given for _values, given, _styles in rows), strict=True)
    if all(row_styles == styles for _values, _given, row_styles in rows):
        return [_widest(values, style) for values, style in zip(by_column, styles, strict=True)]
    styles_by_column = zip(*(row_styles for _values, _given, row_styles in rows), strict=True)
    return [_widest(*pair) for pair in zip(by_column, styles_by_column, strict=True)]


_NUMBERS = (int, float, Decimal)


def _widest(values, styles) -> int:
    """The widest shown value of a column's cells (``styles``: the one style
    of them all, or each cell's): every text measured; of the numbers of each
    style only the largest and the smallest, which are the widest shown
    (digits, separators and sign grow with the magnitude)."""
    if isinstance(styles, str):  # one style (a column with no ``Styled`` value)
        present = [value for value in values if value is not None]
        if styles != TEXT and all(isinstance(value, _NUMBERS) for value in present):
            if not present:
                return 0
            low, high = min(present), max(present)  # the first of equals, as below
            return max(_width(_shown(low, styles)), _width(_shown(high, styles)))
        styles = [styles] * len(values)
    width, extremes = 0, {}
    for value, style in zip(values, styles, strict=True):
        if value is None:
            continue
        if style == TEXT or not isinstance(value, _NUMBERS):
            width = max(width, _width(_shown(value, style)))
            continue
        low, high = extremes.get(style, (value, value))
        extremes[style] = (min(low, value), max(high, value))
    for style, pair in extremes.items():
        width = max(width, *(_width(_shown(value, style)) for value in pair))
    return width


def _width(text: str) -> int:
    """Display width: East Asian wide and full-width characters count double."""
    text = str(text)
    if text.isascii():  # figures: most cells
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _styles(workbook: Workbook) -> None:
    header = NamedStyle(HEADER)
    header.font = Font(bold=True, color="FFFFFF")
    header.fill = PatternFill("solid", fgColor="305496")
    header.alignment = Alignment(horizontal="center", vertical="center")
    title = NamedStyle(TITLE)
    title.font = Font(bold=True, size=13)
    workbook.add_named_style(title)
    workbook.add_named_style(header)
    workbook.add_named_style(NamedStyle(TEXT))
    for name, number_format in FORMATS.items():
        workbook.add_named_style(NamedStyle(name, number_format=number_format))


# ---------------------------------------------------------------- the KPI columns


def _unit_style(unit: str) -> str:
    return {PERCENT: RATE, COUNT: INTEGER, PER_DAY: DECIMAL}[unit]


def kpi_columns() -> list[tuple[str, str, Column]]:
    """(KPI name, part, column) per figure column of the team and agent
    sheets: a count is one column; a rate or per-day figure is numerator,
    denominator and value."""
    columns = []
    for name, kpi in KPIS.items():
        label = zh_label(name)
        if kpi.unit == COUNT:
            columns.append((name, "value", Column(label, INTEGER)))
            continue
        columns.append((name, "numerator", Column(f"{label}·分子", INTEGER)))
        columns.append((name, "denominator", Column(f"{label}·分母", INTEGER)))
        columns.append((name, "value", Column(label, _unit_style(kpi.unit))))
    return columns


def _figure_cells(figures: dict[str, Metric], columns) -> list:
    return [getattr(figures[name], part) for name, part, _column in columns]


def _has_figures(figures: dict[str, Metric]) -> bool:
    """Any figure other than the meetings' (working days count for everyone)."""
    return any(
        m.numerator or m.denominator for n, m in figures.items() if "meetings" not in KPIS[n].tables
    )


# ---------------------------------------------------------------- the sheets


def _period(month) -> Period:
    if isinstance(month, Period):
        return month
    if isinstance(month, date):
        return Period.month(month.year, month.month)
    return Period.parse_month(month)


def _period_label(period: Period) -> str:
    return period.month_label or f"{period.start:%Y-%m-%d}～{period.end:%Y-%m-%d}"


def build_workbook(
    store: Store, month, *, team: Team | None = None, today: date | None = None
) -> bytes:
    """The store's workbook for ``month`` (``YYYY-MM``, a date in the month
    or any ``Period``); with ``team`` (one of the store's), that team's
    workbook: a supervisor's (module doc)."""
    return build_workbooks([store], month, team=team, today=today)[store.pk]


@without_jit
def build_workbooks(
    stores, month, *, team: Team | None = None, today: date | None = None
) -> dict[int, bytes]:
    """Each store's workbook for ``month``, by store id: the figures of all
    the stores, their teams and staff read at once (``kpi.grouped.by_store``,
    grouped queries over every store), then one workbook per store. With
    ``team``, the one store's workbook of that team alone."""
    stores = list(stores)
    if team is not None and [store.pk for store in stores] != [team.store_id]:
        raise ValueError("a team's workbook is of the team's store alone")
    period = _period(month)
    today = today or timezone.localdate()
    generated = local_minute()
    ids = [store.pk for store in stores]
    figures = grouped.by_store(ids, period, today=today)
    rows_of = Scope("team", team.pk) if team is not None else Scope("group")
    channels = _channel_counts(ids, period, rows_of)
    models = _model_counts(ids, period, rows_of)
    return {
        store.pk: _workbook(
            store,
            period,
            figures[store.pk],
            channels.get(store.pk, {}),
            models.get(store.pk, {}),
            generated,
            team,
        )
        for store in stores
    }


def _workbook(store, period, figures, channels, models, generated, team=None) -> bytes:
    return write_workbook(
        workbook_sheets(store, period, figures, channels, models, generated, team)
    )


def workbook_sheets(
    store, period, figures, channels, models, generated, team=None
) -> list[tuple[_Sheet, int]]:
    """The workbook's sheets with their rows (the scorecards' queries run
    here), each with its frozen columns, for ``write_workbook``."""
    whose = f"{store.name}（{store.code}）" + (f" {team.name}" if team is not None else "")
    caption = f"{whose} {_period_label(period)}"
    names = SHEETS if team is None else TEAM_SHEETS

    def title(sheet: str) -> str:
        return f"{caption} DCC {sheet}　生成于 {generated}"

    if team is None:
        summary, categories = figures.store, figures.categories
    else:
        summary, categories = figures.teams[team.pk], figures.team_categories[team.pk]
    return [
        (_summary_sheet(names[0], summary, categories, title(names[0])), 0),
        (_team_sheet(store, period, figures, title(names[1]), team=team), 1),
        (_agent_sheet(store, figures.agents, title(names[2]), team=team), 3),
        (_channel_sheet(channels, models, title(names[3])), 0),
    ]


def write_workbook(sheets: list[tuple[_Sheet, int]]) -> bytes:
    """The ``.xlsx`` bytes of the sheets (each with its frozen columns), in
    openpyxl's write-only mode with the shared named styles; no queries."""
    workbook = Workbook(write_only=True)
    _styles(workbook)
    for sheet, frozen_columns in sheets:
        sheet.write(workbook, frozen_columns=frozen_columns)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _summary_sheet(
    sheet_name: str, figures: dict[str, Metric], categories: dict[str, Metric], caption: str
) -> _Sheet:
    """Every KPI of the store (or of a supervisor's team), then sales
    completion per vehicle model category."""
    sheet = _Sheet(sheet_name, caption)
    rows = []
    for name, kpi in KPIS.items():
        metric = figures[name]
        value = Styled(metric.value, _unit_style(kpi.unit))
        described = [zh(kpi.numerator), zh(kpi.denominator)]
        rows.append([zh_label(name), metric.numerator, metric.denominator, value, *described])
    sheet.block(
        [
            Column("指标"),
            Column("分子", INTEGER),
            Column("分母", INTEGER),
            Column("数值", RATE),
            Column("分子说明"),
            Column("分母说明"),
        ],
        rows,
    )
    sheet.block(
        [
            Column("车型类别"),
            Column("成交台数", INTEGER),
            Column("目标台数", INTEGER),
            Column(zh_label("sales_completion"), RATE),
        ],
        [
            [category or NO_MODEL, m.numerator, m.denominator, m.value]
            for category, m in categories.items()
        ],
    )
    return sheet


SCORECARD_COLUMNS = (
    Column("考核得分", DECIMAL),
    Column("绩效工资", DECIMAL),
    Column("提成", DECIMAL),
)


def _scorecards(
    store: Store, teams: list[Team], period: Period, figures: grouped.StoreFigures
) -> dict[int, list]:
    """Per team, its scorecard's (the supervisor's card) weighted total, the
    performance pay and the net commission, scored on the team's figures
    already computed for the sheet (``kpi.grouped.StoreFigures``)."""
    cards = {}
    for team in teams:
        card = scorecard(
            Scope("team", team.pk),
            period,
            store=store,
            figures=figures.teams[team.pk],
            by_category=figures.team_categories[team.pk],
        )
        cards[team.pk] = [card.total, card.pay, card.commission.net]
    return cards


def _team_sheet(
    store: Store, period: Period, figures: grouped.StoreFigures, caption: str, *, team=None
) -> _Sheet:
    """A row per team of the store (``team``: that one alone)."""
    team_rows = Team.objects.filter(store=store).order_by("name")
    if team is not None:
        team_rows = team_rows.filter(pk=team.pk)
    team_rows = list(team_rows)
    members = dict(
        User.objects.filter(store=store, team__isnull=False, is_active=True)
        .values("team")
        .annotate(n=Count("pk"))
        .values_list("team", "n")
        .order_by()
    )
    columns = kpi_columns()
    cards = _scorecards(store, team_rows, period, figures)
    header = [Column("团队"), Column("在岗人数", INTEGER), *SCORECARD_COLUMNS]
    header += [column for _n, _p, column in columns]
    rows = []
    for team in team_rows:
        row = [team.name, members.get(team.pk, 0), *cards[team.pk]]
        rows.append(row + _figure_cells(figures.teams[team.pk], columns))
    sheet = _Sheet(SHEETS[1], caption)
    sheet.block(header, rows)
    return sheet


def _agent_sheet(store: Store, agents: dict[int, dict], caption: str, *, team=None) -> _Sheet:
    """Every active DCC member of the store, and anyone else (a manager who
    recorded a walk-in, someone who left) with a figure this period; with
    ``team``, that team's members alone."""
    columns = kpi_columns()
    staff = User.objects.filter(store=store)
    if team is not None:
        staff = staff.filter(team=team)
    staff = staff.select_related("team").order_by("team__name", "name", "username")
    # Telesales staff first; showroom consultants (and anyone else with a
    # figure) in a block of their own below, never ranked among agents.
    rows, others = [], []
    for member in staff:
        figures = agents[member.pk]
        listed = member.is_active and member.role in MEMBER_ROLES
        if not (listed or _has_figures(figures)):
            continue
        row = [
            member.team.name if member.team else NO_TEAM,
            member.display_name,
            ZH_ROLES.get(member.role, member.role),
            *_figure_cells(figures, columns),
        ]
        (rows if member.role in RANKED_ROLES else others).append(row)
    sheet = _Sheet(SHEETS[2], caption)
    figure_columns = [c for _n, _p, c in columns]
    sheet.block([Column("团队"), Column("坐席"), Column("岗位"), *figure_columns], rows)
    if others:
        header = [Column("团队"), Column("展厅销售顾问及其他"), Column("岗位")]
        sheet.block([*header, *figure_columns], others)
    return sheet


COUNTED = ("leads", "a_cards", "calls", "visits", "deals")


def _channel_counts(
    stores: list[int], period: Period, group: Scope
) -> dict[int, dict[tuple, dict[str, int]]]:
    """Per store, per source and channel of the lead (DESIGN §2: the channel
    is kept for these statistics): leads received, valid A-cards, customer
    calls, arrived visits and deals of the period (calls without a lead
    under (None, None)); each table read once for all the stores. ``group``
    the rows counted: every store's (``Scope("group")``) or a team's."""
    counts: dict[int, dict[tuple, dict[str, int]]] = defaultdict(dict)

    def add(rows, prefix: str, *names):
        for row in rows:
            buckets = counts[row["store"]]
            key = (row[f"{prefix}source"], row[f"{prefix}channel"])
            bucket = buckets.setdefault(key, dict.fromkeys(COUNTED, 0))
            for name in names:
                bucket[name] += row[name]

    add(
        leads(group)
        .filter(received_q(period), store__in=stores)
        .values("store", "source", "channel")
        .annotate(leads=Count("pk"), a_cards=Count("pk", filter=valid_a_card_q()))
        .order_by(),
        "",
        "leads",
        "a_cards",
    )
    for name, rows in (
        ("calls", customer_calls(group, period)),
        ("visits", visits(group, period)),
        ("deals", deals(group, period)),
    ):
        add(
            rows.filter(store__in=stores)
            .values("store", "lead__source", "lead__channel")
            .annotate(**{name: Count("pk")})
            .order_by(),
            "lead__",
            name,
        )
    return counts


def _model_counts(
    stores: list[int], period: Period, group: Scope
) -> dict[int, dict[str, dict[str, int]]]:
    """Per store, per vehicle model: the received leads' intended model, the
    deals' sold model (of ``group``'s rows, as ``_channel_counts``)."""
    models: dict[int, dict[str, dict[str, int]]] = defaultdict(dict)
    for field_name, name, rows in (
        ("intended_model__name", "leads", leads(group).filter(received_q(period))),
        ("vehicle_model__name", "deals", deals(group, period)),
    ):
        grouped_rows = (
            rows.filter(store__in=stores)
            .values("store", field_name)
            .annotate(n=Count("pk"))
            .order_by()
        )
        for row in grouped_rows:
            model = models[row["store"]].setdefault(
                row[field_name] or NO_MODEL, {"leads": 0, "deals": 0}
            )
            model[name] += row["n"]
    return models


def _channel_sheet(counts: dict, models: dict, caption: str) -> _Sheet:
    """Leads, valid A-cards, calls, visits and deals per source and channel
    with their shares, then leads and deals per vehicle model."""
    channels = dict(Channel.objects.values_list("pk", "label"))
    order = list(Source.values)
    total_leads = sum(c["leads"] for c in counts.values())
    total_deals = sum(c["deals"] for c in counts.values())

    def sort_key(key):
        source, channel = key
        return (
            source is None,
            order.index(source) if source in order else len(order),
            channels.get(channel, ""),
        )

    rows = []
    for key in sorted(counts, key=sort_key):
        source, channel = key
        c = counts[key]
        rows.append(
            [
                ZH_SOURCES.get(source, source) if source else NO_LEAD,
                channels.get(channel, NO_CHANNEL),
                c["leads"],
                c["a_cards"],
                c["calls"],
                c["visits"],
                c["deals"],
                percent(c["leads"], total_leads),
                percent(c["deals"], total_deals),
            ]
        )
    sheet = _Sheet(SHEETS[3], caption)
    sheet.block(
        [
            Column("来源"),
            Column("渠道"),
            Column("新增线索", INTEGER),
            Column("有效A卡", INTEGER),
            Column("通话", INTEGER),
            Column("到店", INTEGER),
            Column("成交", INTEGER),
            Column("线索占比", RATE),
            Column("成交占比", RATE),
        ],
        rows,
    )
    sheet.block(
        [
            Column("车型"),
            Column("新增线索", INTEGER),
            Column("线索占比", RATE),
            Column("成交", INTEGER),
            Column("成交占比", RATE),
        ],
        [
            [
                model,
                c["leads"],
                percent(c["leads"], total_leads),
                c["deals"],
                percent(c["deals"], total_deals),
            ]
            for model, c in sorted(models.items(), key=lambda item: (-item[1]["leads"], item[0]))
        ],
    )
    return sheet


# ---------------------------------------------------------------- kept workbooks


def kept_name(store: Store, period: Period) -> str:
    return f"{EXPORT_DIR}/{store.code}/{period.start:%Y-%m}.xlsx"


def download_name(store: Store, period: Period, *, team: Team | None = None) -> str:
    whose = store.code if team is None else f"{store.code}-T{team.pk}"
    return f"DCC-KPI-{whose}-{_period_label(period)}.xlsx"


def generate_monthly(store: Store, month, *, today: date | None = None) -> str:
    """Build the store's workbook for ``month`` and keep it (replacing a
    kept one): the storage name."""
    return generate_many([store], month, today=today)[0]


def generate_many(stores, month, *, today: date | None = None) -> list[str]:
    """Build the workbooks of ``stores`` for ``month`` at once
    (``build_workbooks``) and keep each (replacing a kept one): the storage
    names, in the stores' order."""
    stores = list(stores)
    period = _period(month)
    books = build_workbooks(stores, period, today=today)
    return [_keep(kept_name(store, period), books[store.pk]) for store in stores]


def _keep(name: str, content: bytes) -> str:
    # Two runs at once (a redelivered beat task) may both get here: the
    # storage then keeps the second file under a suffixed name, which
    # ``kept_months`` ignores; the name below holds a complete workbook
    # either way.
    if default_storage.exists(name):
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(content))


def kept_exists(store: Store, period: Period) -> bool:
    return default_storage.exists(kept_name(store, period))


def open_kept(store: Store, period: Period):
    return default_storage.open(kept_name(store, period), "rb")


@dataclass(frozen=True)
class KeptWorkbook:
    store: Store
    period: Period
    size: int
    modified: datetime | None


def kept_months(store: Store) -> list[KeptWorkbook]:
    """The store's kept workbooks, latest month first."""
    folder = f"{EXPORT_DIR}/{store.code}"
    try:
        _dirs, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return []
    kept = []
    for filename in files:
        match = _KEPT_NAME.match(filename)
        if not match:
            continue
        period = Period.month(int(match[1]), int(match[2]))
        name = f"{folder}/{filename}"
        try:
            modified = default_storage.get_modified_time(name)
        except NotImplementedError:
            modified = None
        kept.append(KeptWorkbook(store, period, default_storage.size(name), modified))
    return sorted(kept, key=lambda k: k.period.start, reverse=True)


def is_closed(period: Period, today: date | None = None) -> bool:
    return period.end < (today or timezone.localdate())
