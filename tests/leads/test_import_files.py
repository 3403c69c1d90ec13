"""Lead files as dealerships receive them (issue 16): the layouts of OEM DMS
and CRM exports, Ocean Engine and Tencent clue lists (headers as those
exports write them, docs/lead-files.md), .xls and GBK CSV, Chinese dates,
value aliases, import profiles and the mapping step, background imports
with progress and cancellation, the history, the rows in error and undo."""

import io
from datetime import datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import Workbook, load_workbook

from dcc.models import AuditEvent
from followups.models import Result
from followups.services import followup_log
from leads import importer
from leads.aliases import Resolver, Unknown
from leads.models import (
    Channel,
    Customer,
    HeaderAlias,
    ImportProfile,
    ImportStatus,
    Lead,
    LeadImport,
    ValueAlias,
    ValueKind,
)
from leads.services import lead_assign
from tests.leads.xls_writer import xls_bytes

IMPORT_URL = "/api/v1/leads/import/"
TZ = timezone.get_default_timezone


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def gl8_alias(gl8):
    return ValueAlias.objects.create(kind=ValueKind.MODEL, alias="别克GL8", vehicle_model=gl8)


def xlsx(rows, title="Sheet1") -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    for values in rows:
        sheet.append(values)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows, encoding="utf-8") -> bytes:
    text = "\r\n".join(",".join("" if v is None else str(v) for v in row) for row in rows)
    return (text + "\r\n").encode(encoding)


def run(actor, data: bytes, **options):
    return importer.lead_import(actor=actor, file=io.BytesIO(data), **options)


def local(*args):
    return datetime(*args, tzinfo=TZ())


# ---------------------------------------------------------------- the layouts

# An OEM DMS clue-detail export (线索明细): two channel levels, the series and
# the model, creation and issue times, the dealer code and the clue state.
DMS_HEADER = [
    "序号", "线索ID", "客户姓名", "手机号码", "省份", "城市", "经销商代码", "意向车系",
    "意向车型", "一级渠道名称", "二级渠道名称", "线索创建时间", "下发时间", "线索状态",
]  # fmt: skip


def test_oem_dms_clue_detail_export(mike, gl8, envision):
    rows = [
        DMS_HEADER,
        [1, "L2026110300001", "张伟", "13812345678", "上海", "上海市", "SGM12345", "GL8",
         "GL8 ES陆尊 653T 豪华型", "垂直媒体", "汽车之家-车商汇", "2026-11-03 09:01:12",
         "2026-11-03 09:05:00", "已下发"],
        [2, "L2026110300002", "李娜", 13912345678, "江苏", "苏州市", "SGM12345", "昂科威",
         None, "垂直媒体", "易车", "2026/11/3 10:20", "2026/11/3 10:25", "已下发"],
    ]  # fmt: skip

    result = run(mike, xlsx(rows, title="线索明细"))

    assert (result.created, result.errors) == (2, [])
    zhang = Lead.objects.get(phone="+8613812345678")
    assert zhang.channel.code == "autohome"  # 汽车之家-车商汇, the second level first
    assert zhang.intended_model == gl8  # 意向车系 comes first
    assert zhang.received_at == local(2026, 11, 3, 9, 1, 12)  # 线索创建时间 first
    assert "城市：上海市" in zhang.note
    assert "线索ID：L2026110300001" in zhang.note
    li = Lead.objects.get(phone="+8613912345678")
    assert (li.channel.code, li.intended_model) == ("bitauto", envision)


# An OEM CRM lead table, exported as .xls with date cells and number cells.
CRM_HEADER = ["客户姓名", "客户电话", "来源渠道", "意向车型", "线索下发时间", "备注"]


def test_oem_crm_lead_table_as_xls(mike, gl8_alias, gl8):
    rows = [
        CRM_HEADER,
        ["王芳", 13712345678, "易车", "别克GL8", datetime(2026, 11, 3, 9, 5), "周末看车"],  # noqa: DTZ001
        ["赵敏", "13612345678", "汽车之家-车商汇", "GL8", "2026年11月3日 9:05", None],
    ]

    result = run(mike, xls_bytes(rows, title="线索"), filename="crm.xls")

    assert (result.created, result.errors) == (2, [])
    wang = Lead.objects.get(phone="+8613712345678")
    assert (wang.channel.code, wang.intended_model, wang.note) == ("bitauto", gl8, "周末看车")
    assert wang.received_at == local(2026, 11, 3, 9, 5)
    zhao = Lead.objects.get(phone="+8613612345678")
    assert zhao.channel.code == "autohome"
    assert zhao.received_at == local(2026, 11, 3, 9, 5)
    assert result.record.filename == "crm.xls"


# Ocean Engine (巨量引擎) clue management export: ids of the advertiser, the
# plan and the creative beside the form's name and phone.
OCEAN_HEADER = [
    "线索ID", "广告主ID", "广告主名称", "计划ID", "计划名称", "创意ID", "组件名称",
    "姓名", "电话", "省份", "城市", "线索创建时间", "流量类型", "线索标签",
]  # fmt: skip


def _ocean_rows():
    return [
        OCEAN_HEADER,
        ["7301", "1788", "某别克4S店", "9001", "GL8-表单", "5001", "留资表单", "孙悦",
         "15012345678", "上海", "上海市", "2026-11-03 09:05:33", "抖音", "未标记"],
    ]  # fmt: skip


def test_ocean_engine_export_is_refused_until_a_profile_maps_it(mike, api):
    client = api(mike)
    upload = SimpleUploadedFile("clues.xlsx", xlsx(_ocean_rows()))

    response = client.post(IMPORT_URL, {"file": upload}, format="multipart")

    body = response.json()
    assert response.status_code == 200
    assert body["created"] == 0
    unknown = {e["field"] for e in body["errors"]}
    assert unknown == {"广告主名称", "计划名称", "组件名称", "流量类型", "线索标签"}
    assert body["profile"] is None

    mapping = dict.fromkeys(("广告主名称", "计划名称", "组件名称", "线索标签"), "ignore")
    mapping["流量类型"] = "keep"
    profile = importer.save_profile(
        actor=mike,
        store=mike.store,
        name="巨量引擎线索导出",
        header=OCEAN_HEADER,
        mapping=mapping,
        day_first=False,
    )
    upload = SimpleUploadedFile("clues.xlsx", xlsx(_ocean_rows()))
    response = client.post(IMPORT_URL, {"file": upload}, format="multipart")

    body = response.json()
    assert (body["created"], body["errors"], body["profile"]) == (1, [], profile.pk)
    lead = Lead.objects.get()
    assert "流量类型：抖音" in lead.note
    assert "广告主" not in lead.note
    assert LeadImport.objects.get(pk=body["id"]).profile == profile


# Tencent Ads (腾讯广告) clue list, saved by Excel as CSV in GBK.
TENCENT_HEADER = [
    "线索ID", "线索创建时间", "姓名", "手机号", "号码归属地", "线索来源", "广告名称",
    "落地页名称", "跟进状态",
]  # fmt: skip


def test_tencent_clue_list_as_gbk_csv(mike, api, autohome):
    rows = [
        TENCENT_HEADER,
        ["9123", "2026/11/03 09:05", "周杰", "18612345678", "广东深圳", "汽车之家", "GL8广告",
         "落地页A", "待跟进"],
    ]  # fmt: skip
    data = csv_bytes(rows, "gbk")
    inspection = importer.inspect_file(data, store=mike.store)
    assert {c.header for c in inspection.unknown} == {
        "号码归属地",
        "广告名称",
        "落地页名称",
        "跟进状态",
    }
    assert [c.samples for c in inspection.columns if c.header == "姓名"] == [["周杰"]]
    mapping = {c.key: c.field for c in inspection.columns}
    mapping |= {
        "号码归属地": "keep",
        "广告名称": "ignore",
        "落地页名称": "ignore",
        "跟进状态": "ignore",
    }

    result = run(mike, data, mapping=mapping)

    assert (result.created, result.errors) == (1, [])
    lead = Lead.objects.get()
    assert (lead.channel, lead.customer.name) == (autohome, "周杰")
    assert lead.note == "线索ID：9123；号码归属地：广东深圳"


# ---------------------------------------------------------------- formats


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_in_every_usual_encoding(mike, encoding):
    rows = [["客户姓名", "手机号", "意向车型", "备注"], ["欧阳娜娜", "13812345678", "", "喆"]]
    if encoding == "gbk":
        rows[1][3] = "周末"  # 喆 is not in GBK

    result = run(mike, csv_bytes(rows, encoding))

    assert (result.created, result.errors) == (1, [])
    assert Lead.objects.get().customer.name == "欧阳娜娜"


def test_a_csv_with_tabs_and_semicolons(mike):
    data = "姓名\t电话\n张伟\t13812345678\n".encode()
    assert run(mike, data).created == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x01garbage\x00\xff" * 20, "cannot be read"),
        (b"PK\x03\x04" + b"\0" * 40, "cannot be read"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "cannot be read"),
        (b"\xff\xfe\xfd" * 30 + b"\x81", "no encoding we read"),
    ],
)
def test_an_unreadable_file_is_refused_whole(mike, data, message):
    with pytest.raises(importer.ImportFileError, match=message):
        run(mike, data)
    assert not Lead.objects.exists()
    assert not LeadImport.objects.exists()


@pytest.mark.parametrize(
    ("text", "day_first", "expected"),
    [
        ("2026年11月3日 9:05", False, (2026, 11, 3, 9, 5)),
        ("2026年11月3日9时5分", False, (2026, 11, 3, 9, 5)),
        ("2026/11/3 9:05", False, (2026, 11, 3, 9, 5)),
        ("2026-11-03T09:05", False, (2026, 11, 3, 9, 5)),
        ("2026-11-03 09:05:07", False, (2026, 11, 3, 9, 5, 7)),
        ("2026.11.03", False, (2026, 11, 3)),
        ("11/03/2026 09:05", False, (2026, 11, 3, 9, 5)),
        ("03/11/2026 09:05", True, (2026, 11, 3, 9, 5)),
        ("46329.37847222222", False, (2026, 11, 3, 9, 5)),
        (46329.37847222222, False, (2026, 11, 3, 9, 5)),
    ],
)
def test_dates_as_exports_write_them(text, day_first, expected):
    when = importer.parse_datetime(text, tz=TZ(), day_first=day_first)
    assert when.replace(microsecond=0) == local(*expected)


def test_iso_time_with_offset_and_nonsense():
    assert importer.parse_datetime("2026-11-03T01:05:00Z", tz=TZ()) == local(2026, 11, 3, 9, 5)
    for text in ("2026-13-01", "明天", "31/31/2026"):
        assert importer.parse_datetime(text, tz=TZ()) is None


def test_a_profile_reads_dates_day_first(mike):
    header = ["姓名", "手机号", "留资时间"]
    profile = importer.save_profile(
        actor=mike, store=mike.store, name="英式日期", header=header, mapping={}, day_first=True
    )

    result = run(mike, xlsx([header, ["张伟", "13812345678", "03/11/2026 09:05"]]))

    assert (result.created, result.profile) == (1, profile)
    assert Lead.objects.get().received_at == local(2026, 11, 3, 9, 5)


def test_masked_phone_is_refused_with_its_reason(mike):
    rows = [["姓名", "手机号"], ["张伟", "134****1234"], ["李娜", "13912345678"]]

    result = run(mike, xlsx(rows), partial=True)

    assert result.created == 1
    (error,) = result.errors
    assert (error.row, error.field) == (2, "phone")
    assert "masked" in error.message
    assert "134****1234" in error.message


# ---------------------------------------------------------------- aliases


def test_unknown_values_come_with_the_closest_known_one(mike, gl8):
    rows = [["姓名", "手机号", "渠道", "意向车型"], ["张伟", "13812345678", "汽车之家网", "GL9"]]

    result = run(mike, xlsx(rows))

    messages = {e.field: e.message for e in result.errors}
    assert "did you mean “汽车之家”" in messages["channel"]
    assert "did you mean “GL8”" in messages["intended_model"]


def test_one_resolver_for_every_way_in(gl8_alias, gl8):
    resolver = Resolver()
    assert resolver.channel("易车").code == "bitauto"
    assert resolver.channel("BITAUTO").code == "bitauto"
    assert resolver.channel("汽车之家-车商汇").code == "autohome"
    assert resolver.model("别克GL8") == gl8
    assert resolver.model(" gl8 ") == gl8
    assert isinstance(resolver.channel("快手"), Unknown)


def test_an_administrator_adds_a_header_alias(mike):
    header = ["买家称呼", "手机号"]
    assert run(mike, xlsx([header, ["张伟", "13812345678"]])).created == 0

    HeaderAlias.objects.create(header="买家称呼", field="name")

    assert run(mike, xlsx([header, ["张伟", "13812345678"]])).created == 1


def test_a_deactivated_channel_is_not_reached_through_its_alias(mike):
    Channel.objects.filter(code="bitauto").update(is_active=False)
    result = run(mike, xlsx([["姓名", "手机号", "渠道"], ["张伟", "13812345678", "易车"]]))
    assert [e.field for e in result.errors] == ["channel"]


# ---------------------------------------------------------------- profiles and the API


def test_api_profile_of_another_store_is_a_400(mike, mary, api):
    theirs = importer.save_profile(
        actor=mary,
        store=mary.store,
        name="B",
        header=["姓名", "手机号"],
        mapping={},
        day_first=False,
    )
    upload = SimpleUploadedFile("a.csv", csv_bytes([["姓名", "手机号"], ["张伟", "13812345678"]]))

    response = api(mike).post(
        IMPORT_URL, {"file": upload, "profile": theirs.pk}, format="multipart"
    )

    assert response.status_code == 400
    assert "profile" in response.json()
    assert not Lead.objects.exists()


def test_a_large_file_runs_in_the_background(
    mike, api, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(importer, "BACKGROUND_BYTES", 10)
    data = csv_bytes([["姓名", "手机号"], ["张伟", "13812345678"], ["李娜", "bad"]])
    client = api(mike)

    with django_capture_on_commit_callbacks() as callbacks:  # not sent: no broker needed
        response = client.post(
            IMPORT_URL, {"file": SimpleUploadedFile("big.csv", data)}, format="multipart"
        )

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert len(callbacks) == 1
    assert not Lead.objects.exists()
    status = client.get(f"/api/v1/leads/imports/{body['id']}/").json()
    assert (status["status"], status["progress"]) == ("queued", 0)

    record = importer.run_queued_import(body["id"])

    assert record.status == ImportStatus.DONE
    assert record.rejected  # all or nothing, in the background too
    status = client.get(f"/api/v1/leads/imports/{body['id']}/").json()
    assert (status["status"], status["progress"], status["created"]) == ("done", 100, 0)
    assert status["errors"][0]["row"] == 3
    assert not record.file  # the upload is not kept
    # A second delivery of the message does nothing.
    assert importer.run_queued_import(body["id"]).created == 0


def test_another_store_cannot_see_an_import(mike, mary, alice, api):
    result = run(mike, csv_bytes([["姓名", "手机号"], ["张伟", "13812345678"]]))
    url = f"/api/v1/leads/imports/{result.record.pk}/"
    assert api(mary).get(url).status_code == 404
    assert api(alice).get(url).status_code == 403
    assert api(mike).get(url).status_code == 200


# ---------------------------------------------------------------- cancel


def _queued(actor, rows, monkeypatch):
    monkeypatch.setattr(importer, "BACKGROUND_BYTES", 0)
    return importer.start_import(actor=actor, file=io.BytesIO(csv_bytes(rows)), filename="big.csv")


ROWS = [["姓名", "手机号"]] + [[f"客户{i}", f"138{i:08d}"] for i in range(30)]


def test_a_queued_import_cancelled_never_runs(mike, monkeypatch):
    record = _queued(mike, ROWS, monkeypatch)

    importer.request_cancel(actor=mike, record=record)
    record = importer.run_queued_import(record.pk)

    assert record.status == ImportStatus.CANCELLED
    assert not Lead.objects.exists()


def test_a_running_import_cancelled_writes_nothing(mike, monkeypatch):
    record = _queued(mike, ROWS, monkeypatch)
    monkeypatch.setattr(importer, "PROGRESS_EVERY", 10)
    monkeypatch.setattr(importer, "CREATE_CHUNK", 10)
    seen = []
    report = importer._report_progress

    def cancel_at_the_second_report(import_id, percent):
        seen.append(percent)
        report(import_id, percent)
        if len(seen) == 2:  # someone presses "cancel" on the progress page
            importer.request_cancel(actor=mike, record=LeadImport.objects.get(pk=import_id))

    monkeypatch.setattr(importer, "_report_progress", cancel_at_the_second_report)

    record = importer.run_queued_import(record.pk)

    assert record.status == ImportStatus.CANCELLED
    assert not Lead.objects.exists()
    assert AuditEvent.objects.filter(name="leads.import.cancelled").exists()


def test_progress_page_polls_until_done(mike, web, monkeypatch):
    record = _queued(mike, ROWS, monkeypatch)
    client = web(mike)
    url = reverse("leads:import-detail", args=[record.pk])

    html = client.get(url + "?poll=1", HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 1s"' in html
    assert 'data-testid="import-cancel"' in html

    importer.run_queued_import(record.pk)

    html = client.get(url + "?poll=1", HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in html
    assert 'data-status="done"' in html


# ---------------------------------------------------------------- undo


def test_undo_removes_untouched_leads_and_keeps_worked_ones(mike, alice, bob):
    rows = [["姓名", "手机号"]] + [[f"客户{i}", f"138{i:08d}"] for i in range(4)]
    result = run(mike, csv_bytes(rows), filename="web.csv")
    leads = list(Lead.objects.order_by("phone"))
    lead_assign(actor=mike, lead=leads[0], owner=alice, reason="分配")
    followup_log(actor=mike, lead=leads[1], channel="call", result=Result.NO_ANSWER, agent=bob)

    undone = importer.undo_import(actor=mike, record=result.record)

    assert undone.removed == 2
    assert sorted(undone.kept) == [leads[0].pk, leads[1].pk]
    assert set(Lead.objects.values_list("pk", flat=True)) == {leads[0].pk, leads[1].pk}
    assert Lead.objects.count() == 2
    assert Customer.objects.count() == 2  # the removed leads' customers went with them
    event = AuditEvent.objects.get(name="leads.import.undone")
    assert (event.actor, event.data["removed"], event.data["kept"]) == (mike, 2, 2)
    record = LeadImport.objects.get(pk=result.record.pk)
    assert (record.undo_removed, record.undo_kept, record.undone_by) == (2, 2, mike)
    with pytest.raises(Exception, match="no longer be undone"):
        importer.undo_import(actor=mike, record=record)


def test_undo_only_within_the_days_and_only_by_a_manager(mike, sue, web):
    result = run(sue, csv_bytes([["姓名", "手机号"], ["张伟", "13812345678"]]))
    record = result.record
    assert web(sue).post(reverse("leads:import-undo", args=[record.pk])).status_code == 403
    LeadImport.objects.filter(pk=record.pk).update(
        created_at=timezone.now() - timedelta(days=importer.UNDO_DAYS + 1)
    )
    response = web(mike).post(reverse("leads:import-undo", args=[record.pk]), follow=True)
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    assert Lead.objects.count() == 1
    assert LeadImport.objects.get(pk=record.pk).undone_at is None


def test_undo_from_the_page(mike, web):
    result = run(mike, csv_bytes([["姓名", "手机号"], ["张伟", "13812345678"]]))
    client = web(mike)
    detail = reverse("leads:import-detail", args=[result.record.pk])
    assert 'data-testid="import-undo"' in client.get(detail).content.decode()

    response = client.post(reverse("leads:import-undo", args=[result.record.pk]), follow=True)

    assert 'data-testid="import-undone"' in response.content.decode()
    assert not Lead.objects.exists()


# ---------------------------------------------------------------- history and the rows in error


def test_history_and_the_rows_in_error_as_xlsx(mike, web, mary):
    rows = [
        ["客户姓名", "客户电话", "备注"],
        ["张伟", "13812345678", "=1+1"],
        ["李娜", "134****1234", ""],
    ]
    result = run(mike, csv_bytes(rows), filename="crm.csv", partial=True)
    client = web(mike)

    html = client.get(reverse("leads:import-history")).content.decode()
    assert "crm.csv" in html
    assert mike.display_name in html

    response = client.get(reverse("leads:import-errors", args=[result.record.pk]))
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][:3] == ["客户姓名", "客户电话", "备注"]
    assert len(values[0]) == 5  # and the reason and the row number
    assert values[1][:2] == ["李娜", "134****1234"]
    assert "masked" in values[1][3]
    assert AuditEvent.objects.filter(name="access.leads.import_errors", actor=mike).exists()
    # Another store's manager sees neither.
    assert web(mary).get(reverse("leads:import-errors", args=[result.record.pk])).status_code == 404
    assert "crm.csv" not in web(mary).get(reverse("leads:import-history")).content.decode()


@pytest.mark.parametrize("username", ["alice", "connie"])
def test_agents_reach_no_import_page(everyone, web, mike, username):
    record = run(mike, csv_bytes([["姓名", "手机号"], ["张伟", "13812345678"]])).record
    client = web(everyone[username])
    for name in ("import-detail", "import-errors", "import-map"):
        assert client.get(reverse(f"leads:{name}", args=[record.pk])).status_code == 403
    assert client.get(reverse("leads:import-history")).status_code == 403


# ---------------------------------------------------------------- the mapping step


def test_mapping_step_saves_a_profile_used_next_time(mike, web):
    client = web(mike)
    data = xlsx(_ocean_rows())

    response = client.post(reverse("leads:import"), {"file": SimpleUploadedFile("o.xlsx", data)})

    assert response.status_code == 302
    map_url = response["Location"]
    html = client.get(map_url).content.decode()
    assert "广告主名称" in html  # the column…
    assert "某别克4S店" in html  # …and its sample
    record = LeadImport.objects.get()
    assert record.status == ImportStatus.PENDING
    inspection = importer.inspect_file(data, store=mike.store)
    choices = {f"column-{c.index}": c.field or "ignore" for c in inspection.columns}
    choices |= {"profile_name": "巨量引擎线索导出"}

    response = client.post(map_url, choices)

    assert response.context["result"].created == 1
    profile = ImportProfile.objects.get(name="巨量引擎线索导出")
    assert response.context["result"].profile == profile
    record.refresh_from_db()
    assert (record.status, record.created, record.profile, bool(record.file)) == (
        ImportStatus.DONE,
        1,
        profile,
        False,
    )

    # The same layout again: read by its header with the profile, no mapping step.
    rows = _ocean_rows()
    rows[1][8] = "15012345679"
    response = client.post(
        reverse("leads:import"), {"file": SimpleUploadedFile("o2.xlsx", xlsx(rows))}
    )
    assert response.status_code == 200
    assert response.context["result"].created == 1
    assert response.context["result"].profile == profile


def test_mapping_step_insists_on_the_required_fields(mike, web):
    client = web(mike)
    data = xlsx([["微信昵称", "联系方式"], ["伟哥", "13812345678"]])
    map_url = client.post(reverse("leads:import"), {"file": SimpleUploadedFile("w.xlsx", data)})[
        "Location"
    ]

    response = client.post(map_url, {"column-0": "ignore", "column-1": "phone"})

    assert response.status_code == 200
    assert 'data-testid="import-map-problem"' in response.content.decode()
    assert not Lead.objects.exists()
    response = client.post(map_url, {"column-0": "name", "column-1": "phone"})
    assert response.context["result"].created == 1


# ---------------------------------------------------------------- the same aliases over the API


def test_the_lead_api_reads_channel_aliases_too(mike, api):
    client = api(mike)
    payload = {"name": "张伟", "phone": "13812345678", "source": "web", "channel": "易车"}

    response = client.post("/api/v1/leads/", payload, format="json")

    assert response.status_code == 201, response.json()
    assert Lead.objects.get().channel.code == "bitauto"
    payload |= {"phone": "13912345678", "channel": "汽车之家网"}
    response = client.post("/api/v1/leads/", payload, format="json")
    assert response.status_code == 400
    assert "汽车之家" in response.json()["channel"][0]


@pytest.mark.postgres  # a second connection sees and writes while the import's transaction runs
@pytest.mark.django_db(transaction=True)
def test_a_cancel_while_the_rows_are_written_rolls_everything_back(mike, monkeypatch):
    import threading

    from django.db import connections

    record = _queued(mike, ROWS, monkeypatch)
    monkeypatch.setattr(importer, "CREATE_CHUNK", 10)
    seen = []
    report = importer._report_progress

    def press_cancel():
        try:
            importer.request_cancel(actor=mike, record=LeadImport.objects.get(pk=record.pk))
        finally:
            connections.close_all()

    def cancel_once_writing(import_id, percent):
        seen.append(percent)
        report(import_id, percent)  # through its own connection: a poller sees it now
        if percent > 50 and len([p for p in seen if p > 50]) == 1:
            assert LeadImport.objects.get(pk=import_id).percent == percent
            other = threading.Thread(target=press_cancel)
            other.start()
            other.join(10)

    monkeypatch.setattr(importer, "_report_progress", cancel_once_writing)

    record = importer.run_queued_import(record.pk)

    assert record.status == ImportStatus.CANCELLED
    assert [p for p in seen if p > 50][:1]  # the cancel came while rows were being written
    assert not Lead.objects.exists()
    assert not Customer.objects.exists()
