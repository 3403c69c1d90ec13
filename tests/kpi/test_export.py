"""The monthly Excel export (issue 6 item 5): the workbook read back with
openpyxl (sheets, headers, formats, frozen panes) and its numbers checked
against GET /api/v1/kpi/; the grouped figures equal ``compute`` per agent and
team; the beat task keeps each store's file once; every download is scoped.
"""

import io
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.files.storage import default_storage
from openpyxl import load_workbook

from kpi import export, grouped, services, tasks
from kpi.metrics import KPIS, Period, Scope, compute, sales_completion_by_category
from kpi.scorecard import scorecard
from telephony.models import AnsweredBy, Call, Direction, Disposition
from tests.kpi.conftest import OCTOBER, at

pytestmark = pytest.mark.django_db

API = "/api/v1/kpi/"
EXPORT_API = "/api/v1/kpi/export/"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TODAY = date(2026, 11, 15)
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def scenario(
    october_activity, alice, bob, carol, dave, sue, mike, team_a1, team_a2, lead, pbx_call, autohome
):
    """Store A, October (``october_activity``), and what does not add up
    from agents to teams: a new number that rang two members of a team."""
    for agent, n in [(alice, 0), (bob, 1), (carol, 2), (dave, 3)]:
        lead(agent, at(10, 15 + n), channel=autohome)  # a web lead from Autohome
    # The same new number rings alice and then bob (team A1): one first-time
    # caller for the team, one for each of them.
    pbx_call(alice, "+8613900000077", at(10, 20, 9), new_caller=True)
    pbx_call(bob, "+8613900000077", at(10, 20, 15), new_caller=True)
    month = date(2026, 10, 1)
    services.targets_set(
        actor=sue, team=team_a1, month=month, units={(alice.pk, "SUV"): 2, (bob.pk, "MPV"): 3}
    )
    services.targets_set(actor=mike, team=team_a2, month=month, units={(carol.pk, "SUV"): 4})
    # Meetings: team A1 on time on 12 and 13 October (bob misses the 13th's
    # evening), late on the 14th; team A2 on the 12th.
    for day in (12, 13, 14):
        hour = 8 if day < 14 else 9
        services.meeting_record(
            actor=mike,
            team=team_a1,
            kind="morning",
            held_at=at(10, day, hour),
            attendees=[alice, bob, sue],
        )
        services.meeting_record(
            actor=mike,
            team=team_a1,
            kind="evening",
            held_at=at(10, day, 17),
            attendees=[alice, sue] if day == 13 else [alice, bob, sue],
        )
    services.meeting_record(
        actor=mike, team=team_a2, kind="morning", held_at=at(10, 12, 8), attendees=[carol]
    )
    services.meeting_record(
        actor=mike, team=team_a2, kind="evening", held_at=at(10, 12, 17), attendees=[carol]
    )


# ---------------------------------------------------------------- grouped == compute


def test_grouped_figures_equal_compute_for_every_store_agent_and_team(
    scenario, store_a, store_b, team_a1, team_a2, alice, bob, dave
):
    by_store = grouped.by_store([store_a.pk, store_b.pk], OCTOBER, today=TODAY)
    assert set(by_store) == {store_a.pk, store_b.pk}
    a = by_store[store_a.pk]
    assert set(a.teams) == {team_a1.pk, team_a2.pk}
    assert dave.pk in by_store[store_b.pk].agents
    assert dave.pk not in a.agents
    for store, figures in by_store.items():
        assert figures.store == compute(Scope("store", store), OCTOBER, today=TODAY), store
        scope = Scope("store", store)
        assert figures.categories == sales_completion_by_category(scope, OCTOBER), store
        for pk, categories in figures.team_categories.items():
            assert categories == sales_completion_by_category(Scope("team", pk), OCTOBER), pk
        for pk, agent in figures.agents.items():
            assert agent == compute(Scope("agent", pk), OCTOBER, today=TODAY), pk
        for pk, team in figures.teams.items():
            assert team == compute(Scope("team", pk), OCTOBER, today=TODAY), pk
    # The scenario is not trivial: every rate has a base for alice, her team
    # and her store.
    for figures in (a.agents[alice.pk], a.teams[team_a1.pk], a.store):
        for name in KPIS:
            assert figures[name].numerator, name
    # The shared new number: one caller for the team, one for each agent.
    assert a.teams[team_a1.pk]["card_creation_rate"].denominator == (
        a.agents[alice.pk]["card_creation_rate"].denominator
        + a.agents[bob.pk]["card_creation_rate"].denominator
        - 1
    )


def test_an_agent_who_called_through_two_stores_counts_each_day_once(
    scenario, store_a, store_b, bob
):
    # Bob called from store A on 7 October (the scenario); that afternoon a
    # call of his is logged by store B's PBX.
    started = at(10, 7, 15)
    Call.objects.create(
        store=store_b,
        key="bob-through-b",
        started_at=started,
        ended_at=started + timedelta(minutes=2),
        direction=Direction.OUTBOUND,
        disposition=Disposition.ANSWERED,
        answered_by=AnsweredBy.AGENT,
        external_number="+8613911112222",
        agent=bob,
        billsec=100,
    )
    by_store = grouped.by_store([store_a.pk, store_b.pk], OCTOBER, today=TODAY)
    bob_figures = by_store[store_a.pk].agents[bob.pk]
    assert bob_figures == compute(Scope("agent", bob.pk), OCTOBER, today=TODAY)
    days = Call.objects.filter(agent=bob).datetimes("started_at", "day", tzinfo=SHANGHAI)
    assert bob_figures["outbound_calls_per_agent_day"].denominator == len(days)
    for store in (store_a, store_b):
        expected = compute(Scope("store", store.pk), OCTOBER, today=TODAY)
        assert by_store[store.pk].store == expected


def test_grouped_figures_take_a_fixed_number_of_queries(
    scenario, store_a, store_b, django_assert_num_queries
):
    # One query per base table and grouping, whatever the number of stores,
    # teams and agents.
    with django_assert_num_queries(23) as one:
        grouped.by_store([store_a.pk], OCTOBER, today=TODAY)
    with django_assert_num_queries(len(one.captured_queries)):
        grouped.by_store([store_a.pk, store_b.pk], OCTOBER, today=TODAY)


# ---------------------------------------------------------------- the workbook read back


def _workbook(response):
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == XLSX
    return load_workbook(
        io.BytesIO(
            b"".join(response.streaming_content)
            if getattr(response, "streaming", False)
            else response.content
        )
    )


def _rows(sheet):
    """The header (row 2) and the data rows below it, up to the first blank row."""
    header = [c.value for c in sheet[2]]
    rows = []
    for row in sheet.iter_rows(min_row=3):
        if all(c.value is None for c in row):
            break
        rows.append(row)
    return header, rows


def _by_header(header, row):
    return {h: c for h, c in zip(header, row, strict=False) if h}


def _check_against_api(cells: dict, api_metrics: dict):
    """Every KPI column of a team or agent row equals the API's figure."""
    checked = 0
    for name, kpi in KPIS.items():
        label = export.zh_label(name)
        expected = api_metrics[name]
        if kpi.unit == "count":
            assert cells[label].value == expected["value"], name
            assert cells[label].number_format == "#,##0", name
        else:
            assert cells[f"{label}·分子"].value == expected["numerator"], name
            assert cells[f"{label}·分母"].value == expected["denominator"], name
            value = cells[label].value
            if expected["value"] is None:
                assert value is None, name
            elif kpi.unit == "percent":
                assert cells[label].number_format == "0.00%", name
                assert round(Decimal(str(value)) * 100, 2) == Decimal(str(expected["value"])), name
            else:
                assert Decimal(str(value)) == Decimal(str(expected["value"])), name
        checked += 1
    assert checked == len(KPIS)


def test_workbook_has_its_sheets_headers_formats_and_frozen_panes(scenario, api, mike, store_a):
    book = _workbook(api(mike).get(EXPORT_API, {"month": "2026-10", "store": store_a.pk}))
    assert book.sheetnames == ["门店汇总", "团队", "坐席明细", "渠道统计"]
    for sheet in book.worksheets:
        assert sheet.freeze_panes in ("A3", "B3", "D3"), sheet.title
        title = sheet["A1"].value
        assert "浦东店（A01） 2026-10" in title
        # Widths follow the content: no column left at Excel's default.
        assert all(d.width and d.width >= 4 for d in sheet.column_dimensions.values())
    summary = book["门店汇总"]
    header, rows = _rows(summary)
    assert header == ["指标", "分子", "分母", "数值", "分子说明", "分母说明"]
    assert [r[0].value for r in rows] == [export.zh_label(n) for n in KPIS]
    rate = next(r for r in rows if r[0].value == "电话跟进率")
    assert rate[3].number_format == "0.00%"
    assert rate[1].number_format == "#,##0"
    deals_row = next(r for r in rows if r[0].value == "客户成交量")
    assert deals_row[3].number_format == "#,##0"
    assert deals_row[2].value is None  # a count has no denominator
    # CJK headers count double: 分子说明 (4 characters) needs 8 + 2.
    assert summary.column_dimensions["E"].width >= 10
    assert book["坐席明细"].freeze_panes == "D3"
    team_header, _team_rows = _rows(book["团队"])
    assert team_header[:2] == ["团队", "在岗人数"]
    agent_header, _agent_rows = _rows(book["坐席明细"])
    assert agent_header[:3] == ["团队", "坐席", "岗位"]
    assert "电话跟进率·分子" in agent_header
    assert "客户成交量" in agent_header
    channel_header, _channel_rows = _rows(book["渠道统计"])
    assert channel_header == [
        "来源",
        "渠道",
        "新增线索",
        "有效A卡",
        "通话",
        "到店",
        "成交",
        "线索占比",
        "成交占比",
    ]


def test_workbook_numbers_equal_the_api(
    scenario, api, mike, store_a, team_a1, alice, bob, settings
):
    client = api(mike)
    book = _workbook(client.get(EXPORT_API, {"month": "2026-10", "store": store_a.pk}))

    def figures(scope, id_):
        body = client.get(API, {"month": "2026-10", "scope": scope, "id": id_}).json()
        return body["metrics"]

    # The store summary: numerator, denominator and value of every KPI.
    store = figures("store", store_a.pk)
    _header, rows = _rows(book["门店汇总"])
    for row, (name, kpi) in zip(rows, KPIS.items(), strict=True):
        numerator, denominator, value = (c.value for c in row[1:4])
        if kpi.unit == "count":
            assert numerator == store[name]["value"], name
        else:
            assert (numerator, denominator) == (
                store[name]["numerator"],
                store[name]["denominator"],
            ), name
            if store[name]["value"] is None:
                assert value is None, name
            elif kpi.unit == "percent":
                assert round(Decimal(str(value)) * 100, 2) == Decimal(str(store[name]["value"]))
    # A team.
    header, rows = _rows(book["团队"])
    team_row = next(r for r in rows if r[0].value == team_a1.name)
    _check_against_api(_by_header(header, team_row), figures("team", team_a1.pk))
    # Two agents.
    header, rows = _rows(book["坐席明细"])
    for agent in (alice, bob):
        row = next(r for r in rows if r[1].value == agent.display_name)
        assert row[0].value == team_a1.name
        assert row[2].value == "电话营销专员"
        _check_against_api(_by_header(header, row), figures("agent", agent.pk))
    # mike recorded a walk-in, but a visit is the lead owner's (alice's):
    # the manager has no figure of his own.
    assert not any(r[2].value in ("销售经理", "展厅销售顾问") for r in rows)


def test_team_sheet_carries_the_supervisor_scorecard(scenario, store_a, team_a1):
    book = load_workbook(io.BytesIO(export.build_workbook(store_a, "2026-10", today=TODAY)))
    header = [c.value for c in book["团队"][2]]
    row = next(r for r in book["团队"].iter_rows(min_row=3) if r[0].value == team_a1.name)
    cells = _by_header(header, row)
    card = scorecard(Scope("team", team_a1.pk), OCTOBER, store=store_a)
    assert card.total is not None
    for column, expected in (
        ("考核得分", card.total),
        ("绩效工资", card.pay),
        ("提成", card.commission.net),
    ):
        value = cells[column].value
        assert (None if value is None else Decimal(str(value))) == expected, column
        assert cells[column].number_format == "#,##0.00"


def test_channel_statistics_add_up_to_the_store(scenario, store_a, autohome):
    book = load_workbook(io.BytesIO(export.build_workbook(store_a, "2026-10", today=TODAY)))
    _header, rows = _rows(book["渠道统计"])
    table = [[c.value for c in r] for r in rows]
    store = compute(Scope("store", store_a.pk), OCTOBER, today=TODAY)
    assert sum(r[2] for r in table) == store["new_leads"].value
    assert sum(r[3] for r in table) == store["new_a_cards"].value
    assert sum(r[4] for r in table) == (
        store["calls_inbound"].value + store["calls_outbound"].value
    )
    assert sum(r[6] for r in table) == store["deals"].value
    assert sum(r[7] for r in table) == pytest.approx(1)
    web_autohome = next(r for r in table if r[:2] == ["网络", autohome.label])
    assert web_autohome[2] == 3  # alice's, bob's and carol's Autohome leads
    assert rows[0][7].number_format == "0.00%"
    # Share per model: the second block, below a blank row.
    below = list(book["渠道统计"].iter_rows(min_row=3 + len(rows) + 1))
    model_header = [c.value for c in below[0]][:5]
    assert model_header == ["车型", "新增线索", "线索占比", "成交", "成交占比"]
    models = {r[0].value: r for r in below[1:] if r[0].value}
    assert models["GL8"][3].value == 3  # one October order each: alice, bob, carol
    assert models["未填写车型"][1].value == 3


# ---------------------------------------------------------------- months


def test_a_lead_at_the_last_second_counts_in_its_month(api, mike, alice, store_a, lead):
    lead(alice, at(10, 31, 23, 59, 59))
    lead(alice, at(11, 1, 0, 0, 0))
    lead(alice, at(11, 1, 0, 0, 1))
    client = api(mike)
    for month, expected in (("2026-10", 1), ("2026-11", 2)):
        book = _workbook(client.get(EXPORT_API, {"month": month, "store": store_a.pk}))
        _header, rows = _rows(book["门店汇总"])
        new_leads = next(r for r in rows if r[0].value == "新增线索")
        assert new_leads[1].value == expected, month
        _header, agents = _rows(book["坐席明细"])
        cells = _by_header(_header, next(r for r in agents if r[1].value == alice.display_name))
        assert cells["新增线索"].value == expected, month


@pytest.mark.parametrize("month", ["2026-13", "October", "2026-1", ""])
def test_a_bad_month_is_a_bad_request(api, mike, store_a, month):
    response = api(mike).get(EXPORT_API, {"month": month, "store": store_a.pk})
    assert response.status_code == 400
    assert "month" in response.json()


# ---------------------------------------------------------------- kept for download


def test_the_beat_task_keeps_last_months_workbook_once(scenario, store_a, store_b):
    assert tasks.monthly_export(today="2026-11-01") == [
        "kpi-exports/A01/2026-10.xlsx",
        "kpi-exports/B01/2026-10.xlsx",
    ]
    with default_storage.open("kpi-exports/A01/2026-10.xlsx") as kept_file:
        kept = kept_file.read()
    book = load_workbook(io.BytesIO(kept))
    assert book.sheetnames == list(export.SHEETS)
    assert "2026-10" in book["门店汇总"]["A1"].value
    modified = default_storage.get_modified_time("kpi-exports/A01/2026-10.xlsx")
    # Run again (a redelivered task): nothing is written.
    assert tasks.monthly_export(today="2026-11-01") == []
    assert default_storage.get_modified_time("kpi-exports/A01/2026-10.xlsx") == modified
    assert default_storage.listdir("kpi-exports/A01")[1] == ["2026-10.xlsx"]
    # A regenerate replaces the file under the same name.
    assert export.generate_monthly(store_a, "2026-10") == "kpi-exports/A01/2026-10.xlsx"
    assert default_storage.listdir("kpi-exports/A01")[1] == ["2026-10.xlsx"]


def test_one_store_failing_does_not_stop_the_others(scenario, store_a, store_b, monkeypatch):
    real = export._workbook

    def broken(store, *args):
        if store.pk == store_b.pk:
            raise RuntimeError("store B's workbook cannot be written")
        return real(store, *args)

    monkeypatch.setattr(export, "_workbook", broken)
    # All at once fails; store by store, A is kept and B is left for a rerun.
    assert tasks.monthly_export(today="2026-11-01") == ["kpi-exports/A01/2026-10.xlsx"]
    assert not export.kept_exists(store_b, Period.month(2026, 10))
    monkeypatch.setattr(export, "_workbook", real)
    assert tasks.monthly_export(today="2026-11-01") == ["kpi-exports/B01/2026-10.xlsx"]


def test_the_beat_entry_runs_on_the_first_at_one(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["kpi.monthly_export"]
    assert entry["task"] == tasks.monthly_export.name
    schedule = entry["schedule"]
    assert (schedule.day_of_month, schedule.hour, schedule.minute) == ({1}, {1}, {0})
    assert settings.CELERY_TIMEZONE == "Asia/Shanghai"


def test_a_closed_month_is_served_from_the_kept_file(api, web, mike, store_a, alice, lead):
    lead(alice, at(10, 5))
    export.generate_monthly(store_a, "2026-10")
    # A lead entered afterwards does not change what was reported.
    lead(alice, at(10, 6))
    for response in (
        api(mike).get(EXPORT_API, {"month": "2026-10", "store": store_a.pk}),
        web(mike).get("/kpi/export/", {"month": "2026-10", "store": store_a.pk}),
    ):
        assert response["Content-Disposition"] == (
            'attachment; filename="DCC-KPI-A01-2026-10.xlsx"'
        )
        assert response["Cache-Control"] == "private, no-store"
        book = _workbook(response)
        _header, rows = _rows(book["门店汇总"])
        assert next(r for r in rows if r[0].value == "新增线索")[1].value == 1


def test_the_exports_page_lists_the_users_stores_kept_files(
    web, mike, mary, root, store_a, store_b
):
    export.generate_monthly(store_a, "2026-09")
    export.generate_monthly(store_b, "2026-09")
    page = web(mike).get("/kpi/exports/")
    assert page.status_code == 200
    text = page.content.decode()
    assert f"store={store_a.pk}&amp;month=2026-09" in text
    assert f"store={store_b.pk}&amp;month=2026-09" not in text
    text = web(root).get("/kpi/exports/").content.decode()
    assert f"store={store_a.pk}&amp;month=2026-09" in text
    assert f"store={store_b.pk}&amp;month=2026-09" in text


def test_generate_and_keep_from_the_page(web, mike, store_a, store_b):
    client = web(mike)
    response = client.post("/kpi/exports/", {"store": store_a.pk, "month": "2026-09"})
    assert response.status_code == 302
    assert default_storage.exists("kpi-exports/A01/2026-09.xlsx")
    # Another store's: not found; a month not yet ended: not kept.
    assert (
        client.post("/kpi/exports/", {"store": store_b.pk, "month": "2026-09"}).status_code == 404
    )
    next_month = Period.current_month().next().month_label
    client.post("/kpi/exports/", {"store": store_a.pk, "month": next_month})
    assert not default_storage.exists(f"kpi-exports/A01/{next_month}.xlsx")


# ---------------------------------------------------------------- scoping


@pytest.mark.parametrize(
    ("user", "store", "expected"),
    [
        ("mike", "a", 200),
        ("sue", "a", 200),
        ("root", "a", 200),
        ("root", "b", 200),
        ("mary", "a", 404),
        ("mary", "b", 200),
        ("sue", "b", 404),
        ("alice", "a", 403),
        ("carol", "a", 403),
        ("connie", "a", 403),
        ("mike", "missing", 404),
        ("mike", None, 200),  # the caller's own store
        ("root", None, 404),  # a group administrator names the store
    ],
)
def test_who_may_download_which_store(api, web, everyone, store_a, store_b, user, store, expected):
    store_id = {"a": store_a.pk, "b": store_b.pk, "missing": 99_999, None: None}[store]
    params = {"month": "2026-09"}
    if store_id is not None:
        params["store"] = store_id
    who = everyone[user]
    assert api(who).get(EXPORT_API, params).status_code == expected
    assert web(who).get("/kpi/export/", params).status_code == expected
    assert web(who).get("/kpi/exports/").status_code == (403 if expected == 403 else 200)


def test_kept_files_are_scoped_like_the_rest(api, web, mary, alice, store_a):
    export.generate_monthly(store_a, "2026-09")
    params = {"month": "2026-09", "store": store_a.pk}
    assert api(mary).get(EXPORT_API, params).status_code == 404
    assert web(mary).get("/kpi/export/", params).status_code == 404
    assert api(alice).get(EXPORT_API, params).status_code == 403
    assert api().get(EXPORT_API, params).status_code == 401
    # Never a plain media file.
    assert web(mary).get("/media/kpi-exports/A01/2026-09.xlsx").status_code == 404
