"""Excel import of web leads: the template, per-row validation, duplicates,
all-or-nothing, history, permissions and the page and API around them."""

import io
import logging
import threading
import time
from datetime import date, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections, transaction
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import Workbook, load_workbook

from dcc.models import AuditEvent
from leads import importer
from leads.importer import RowError
from leads.models import Customer, CustomerPhone, Lead, Source, Status
from leads.services import lead_create, lead_defeat

HEADER = [
    "姓名",
    "手机号",
    "来源",
    "渠道",
    "意向车型",
    "意向级别",
    "留资时间",
    "预计购车日期",
    "负责人",
    "备注",
]
FIELDS = [
    "name",
    "phone",
    "source",
    "channel",
    "intended_model",
    "level",
    "received_at",
    "expected_purchase_date",
    "owner",
    "note",
]
IMPORT_URL = "/api/v1/leads/import/"
TEMPLATE_URL = "/api/v1/leads/import/template/"


@pytest.fixture(autouse=True)
def english():
    """Messages are checked in English (the source language): the default
    language is Chinese, and its catalogue changes as translators work."""
    with translation.override("en"):
        yield


def row(**values):
    """A data row in the template's column order."""
    return [values.get(name) for name in FIELDS]


def workbook_bytes(rows, header=HEADER, title=importer.SHEET_TITLE) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    sheet.append(header)
    for values in rows:
        sheet.append(values)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def upload(rows=(), **kwargs) -> SimpleUploadedFile:
    return SimpleUploadedFile(
        "leads.xlsx", workbook_bytes(rows, **kwargs), content_type=importer.XLSX_CONTENT_TYPE
    )


def run(actor, rows=(), **kwargs):
    options = {k: kwargs.pop(k) for k in ("store", "partial") if k in kwargs}
    return importer.lead_import(
        actor=actor, file=io.BytesIO(workbook_bytes(rows, **kwargs)), **options
    )


def local(*args):
    return datetime(*args, tzinfo=timezone.get_default_timezone())


# ---------------------------------------------------------------- happy paths


def test_chinese_headers_create_leads_with_their_details(mike, bob, envision, gl8, autohome):
    rows = [
        row(
            name="张伟",
            phone="138-1234-5678",
            channel="autohome",
            intended_model="昂科威",
            level="H",
            owner="bob",
            note="要白色",
        ),
        row(name="李先生", phone="13912345678", channel="懂车帝", intended_model="GL8"),
        row(name="王芳", phone="62345678", source="manufacturer"),
    ]

    result = run(mike, rows)

    assert (result.created, result.duplicate_count, result.errors) == (3, 0, [])
    zhang = Lead.objects.get(phone="+8613812345678")
    assert zhang.store == mike.store
    assert zhang.source == Source.WEB
    assert zhang.channel == autohome
    assert zhang.intended_model == envision
    assert zhang.level == "H"
    assert zhang.owner == bob
    assert zhang.created_by == mike
    assert zhang.status == Status.NEW
    assert zhang.note == "要白色"
    assert zhang.customer.name == "张伟"
    assert zhang.customer.has_full_name
    assert zhang.is_valid_a_card
    assert zhang.first_contact_due is None
    assert CustomerPhone.objects.get(number="+8613812345678").customer == zhang.customer

    li = Lead.objects.get(phone="+8613912345678")
    assert li.channel.code == "dongchedi"
    assert li.intended_model == gl8
    assert li.level == "B"  # the default
    assert li.owner is None  # a manager's import leaves rows unassigned
    assert not li.customer.has_full_name  # "李先生" is a form of address
    assert abs(li.received_at - timezone.now()) < timedelta(minutes=1)

    wang = Lead.objects.get(phone="+862162345678")  # the store's area code
    assert wang.source == Source.MANUFACTURER
    assert wang.first_contact_due == wang.received_at + timedelta(hours=48)


def test_english_aliases_are_accepted_in_any_case(mike, envision):
    header = [" Name ", "PHONE", "Intended_Model", "level", "channel", "Note"]
    result = run(mike, [["张伟", "13812345678", "昂科威", "a", "bitauto", "x"]], header=header)

    assert (result.created, result.errors) == (1, [])
    lead = Lead.objects.get()
    assert (lead.intended_model, lead.level, lead.channel.code) == (envision, "A", "bitauto")


def test_phone_cells_may_be_numbers(mike):
    result = run(mike, [row(name="张伟", phone=13812345678), row(name="李娜", phone=13912345678.0)])

    assert result.errors == []
    assert set(Lead.objects.values_list("phone", flat=True)) == {
        "+8613812345678",
        "+8613912345678",
    }


def test_excel_date_cells_and_text_dates(mike):
    yesterday = timezone.localdate() - timedelta(days=1)
    morning = datetime.combine(yesterday, datetime.min.time()).replace(hour=9, minute=30)
    rows = [
        row(
            name="张伟",
            phone="13812345678",
            received_at=morning,
            expected_purchase_date=date(2031, 5, 1),
        ),
        row(
            name="李娜",
            phone="13912345678",
            received_at="2024-02-03 08:15",
            expected_purchase_date="2031-06-30",
        ),
        row(name="赵敏", phone="13712345678", received_at="2024-02-03"),
    ]

    result = run(mike, rows)

    assert result.errors == []
    zhang = Lead.objects.get(phone="+8613812345678")
    assert zhang.received_at == timezone.make_aware(morning)  # Asia/Shanghai
    assert str(zhang.expected_purchase_date) == "2031-05-01"
    li = Lead.objects.get(phone="+8613912345678")
    assert li.received_at == local(2024, 2, 3, 8, 15)
    assert str(li.expected_purchase_date) == "2031-06-30"
    assert Lead.objects.get(phone="+8613712345678").received_at == local(2024, 2, 3)


def test_blank_rows_are_skipped_and_rows_keep_their_excel_numbers(mike):
    rows = [row(name="张伟", phone="13812345678"), [None] * 10, ["  ", None], row(name="李娜")]

    result = run(mike, rows, partial=True)

    assert result.rows == 2
    assert result.created == 1
    assert [(e.row, e.field) for e in result.errors] == [(5, "phone")]


# ---------------------------------------------------------------- errors


def _tomorrow():
    return (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")


def _yesterday():
    return (timezone.localtime() - timedelta(days=1)).strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize(
    ("actor", "values", "field", "message"),
    [
        ("mike", {"phone": "12345"}, "phone", "is not a valid Chinese phone number"),
        ("mike", {"phone": None}, "phone", "Enter a phone number"),
        ("mike", {"name": "  "}, "name", "Enter the customer's name"),
        ("mike", {"name": "张" * 51}, "name", "longer than 50"),
        ("mike", {"source": "tv"}, "source", "Unknown source"),
        ("mike", {"channel": "tiktok"}, "channel", "Unknown channel"),
        ("mike", {"intended_model": "Model Y"}, "intended_model", "Unknown vehicle model"),
        ("mike", {"level": "X"}, "level", "Unknown level"),
        ("mike", {"received_at": "next week"}, "received_at", "is not a date and time"),
        ("mike", {"received_at": "tomorrow"}, "received_at", "in the future"),
        ("sue", {"received_at": "yesterday"}, "received_at", "earlier today only"),
        ("mike", {"expected_purchase_date": "soon"}, "expected_purchase_date", "is not a date"),
        # Shanghai's local mean time before 1901 (+08:05:43); year 1 overflows in UTC.
        ("mike", {"received_at": "1900-01-01 10:00"}, "received_at", "from 1970 to 2099"),
        ("mike", {"received_at": "0001-01-01"}, "received_at", "from 1970 to 2099"),
        ("mike", {"expected_purchase_date": "0001-01-01"}, "expected_purchase_date", "1970"),
        ("sue", {"owner": "bob"}, "owner", "Only a manager may name an owner"),
        ("mike", {"owner": "dave"}, "owner", "works in another store"),
        ("mike", {"owner": "mike"}, "owner", "role cannot own leads"),
        ("mike", {"owner": "nobody"}, "owner", "Unknown staff member"),
    ],
)
def test_a_bad_row_is_reported_with_its_row_and_field(
    everyone, envision, actor, values, field, message
):
    values = {"name": "李娜", "phone": "13912345678"} | values
    if values.get("received_at") == "tomorrow":
        values["received_at"] = _tomorrow()
    if values.get("received_at") == "yesterday":
        values["received_at"] = _yesterday()
    rows = [row(name="张伟", phone="13812345678"), row(**values)]

    result = run(everyone[actor], rows)

    assert [(e.row, e.field) for e in result.errors] == [(3, field)]
    assert message in result.errors[0].message
    assert result.created == 0
    assert not Lead.objects.exists()


def test_supervisor_may_import_earlier_today_and_name_herself(sue):
    earlier = timezone.localtime().replace(hour=0, minute=0).strftime("%Y-%m-%d %H:%M")

    result = run(sue, [row(name="张伟", phone="13812345678", received_at=earlier, owner="sue")])

    assert result.errors == []
    assert Lead.objects.get().owner == sue


def test_every_error_of_a_row_is_reported(mike):
    result = run(mike, [row(name="", phone="1", level="Z", channel="?")])

    assert {e.field for e in result.errors} == {"name", "phone", "level", "channel"}
    assert {e.row for e in result.errors} == {2}


def test_unknown_and_missing_columns_are_header_errors(mike):
    result = run(mike, [["张伟", "x"]], header=["姓名", "微信号"])

    assert result.errors == [
        RowError(row=1, field="微信号", message=result.errors[0].message),
        RowError(row=1, field="phone", message=result.errors[1].message),
    ]
    assert "微信号" in result.errors[0].message
    assert "手机号" in result.errors[1].message
    assert result.created == 0


def test_header_errors_stop_even_a_partial_import(mike):
    result = run(
        mike, [["张伟", "13812345678", "?"]], header=["姓名", "手机号", "微信号"], partial=True
    )

    assert result.rejected
    assert [(e.row, e.field) for e in result.errors] == [(1, "微信号")]
    assert not Lead.objects.exists()


def test_a_field_given_by_two_columns_takes_the_first_filled_in(mike):
    result = run(
        mike,
        [[None, "13812345678", "张伟"], ["李娜", "13912345678", "x"]],
        header=["姓名", "手机号", "name"],
    )

    assert (result.created, result.errors) == (2, [])
    assert {c.name for c in Customer.objects.all()} == {"张伟", "李娜"}


# ---------------------------------------------------------------- all or nothing


def test_one_bad_row_creates_nothing(mike):
    rows = [
        row(name="张伟", phone="13812345678"),
        row(name="李娜", phone="bad"),
        row(name="赵敏", phone="13712345678"),
    ]

    result = run(mike, rows)

    assert result.rejected
    assert (result.created, len(result.errors)) == (0, 1)
    assert not Lead.objects.exists()
    assert not Customer.objects.exists()
    summary = AuditEvent.objects.get(name="leads.import.completed")
    assert (summary.data["created"], summary.data["rejected"], summary.data["errors"]) == (
        0,
        True,
        1,
    )


def test_partial_import_creates_the_good_rows(mike):
    rows = [
        row(name="张伟", phone="13812345678"),
        row(name="李娜", phone="bad"),
        row(name="赵敏", phone="13712345678"),
    ]

    result = run(mike, rows, partial=True)

    assert not result.rejected
    assert result.created == 2
    assert [(e.row, e.field) for e in result.errors] == [(3, "phone")]
    assert Lead.objects.count() == 2
    summary = AuditEvent.objects.get(name="leads.import.completed")
    assert (summary.actor, summary.store) == (mike, mike.store)
    assert summary.data["created"] == 2


# ---------------------------------------------------------------- duplicates


def test_duplicates_are_reported_recorded_and_not_created(mike, alice, make_lead):
    existing = make_lead(alice, phone="13812345678")
    rows = [
        row(name="张伟", phone="138 1234 5678"),  # open lead of alice
        row(name="李娜", phone="13912345678"),
        row(name="李娜", phone="+86 139 1234 5678"),  # same as row 3
        row(name="赵敏", phone="13712345678"),
    ]

    result = run(mike, rows)

    assert (result.created, result.duplicate_count, result.errors) == (2, 2, [])
    first_in_file = Lead.objects.get(phone="+8613912345678")
    assert [(d.row, d.existing_lead_id, d.owner_name, d.first_row) for d in result.duplicates] == [
        (2, existing.pk, alice.display_name, None),
        (4, first_in_file.pk, "", 3),
    ]
    assert Lead.objects.filter(phone="+8613812345678").count() == 1
    assert Lead.objects.filter(phone="+8613912345678").count() == 1
    events = AuditEvent.objects.filter(name="leads.lead.duplicate_entry").order_by("data__row")
    assert [(e.target_id, e.actor, e.data["row"]) for e in events] == [
        (existing.pk, mike, 2),
        (first_in_file.pk, mike, 4),
    ]
    assert events[0].target == existing
    assert events[0].data["phone"] == "+8613812345678"


def test_duplicates_do_not_block_an_all_or_nothing_import(mike, alice, make_lead):
    make_lead(alice, phone="13812345678")

    result = run(
        mike, [row(name="张伟", phone="13812345678"), row(name="李娜", phone="13912345678")]
    )

    assert not result.rejected
    assert (result.created, result.duplicate_count) == (1, 1)


def test_rejected_import_reports_in_file_duplicates_by_row(mike):
    rows = [
        row(name="李娜", phone="13912345678"),
        row(name="李娜", phone="13912345678"),
        row(name="赵敏", phone="bad"),
    ]

    result = run(mike, rows)

    assert result.rejected
    assert [(d.row, d.first_row, d.existing_lead_id) for d in result.duplicates] == [(3, 2, None)]
    assert not AuditEvent.objects.filter(name="leads.lead.duplicate_entry").exists()


def test_a_known_customer_with_a_defeated_lead_is_reused(mike, alice, make_lead, price_reason):
    old = make_lead(alice, phone="13812345678", name="王先生")
    lead_defeat(actor=mike, lead=old, reason=price_reason)
    customers = Customer.objects.count()

    result = run(mike, [row(name="王建国", phone="13812345678")])

    assert (result.created, result.duplicate_count) == (1, 0)
    assert Customer.objects.count() == customers
    new = Lead.objects.exclude(pk=old.pk).get()
    assert new.customer_id == old.customer_id
    new.customer.refresh_from_db()
    # A full name replaces a form of address, as lead_create does.
    assert (new.customer.name, new.customer.has_full_name) == ("王建国", True)
    assert new.customer.history.first().history_user == mike


def test_a_phone_of_another_store_is_not_a_duplicate(mike, dave, make_lead, store_b):
    make_lead(dave, phone="13812345678", store=store_b)

    result = run(mike, [row(name="张伟", phone="13812345678")])

    assert (result.created, result.duplicate_count) == (1, 0)


# ---------------------------------------------------------------- history


def test_imported_rows_have_history_by_the_importer(mike):
    run(mike, [row(name="张伟", phone="13812345678")])

    lead = Lead.objects.get()
    record = lead.history.get()
    assert (record.history_type, record.history_user, record.history_change_reason) == (
        "+",
        mike,
        importer.CHANGE_REASON,
    )
    assert record.phone == "+8613812345678"
    assert lead.customer.history.get().history_user == mike
    assert CustomerPhone.history.get().history_user == mike


# ---------------------------------------------------------------- permissions


@pytest.mark.parametrize("username", ["alice", "carol", "connie"])
def test_staff_without_the_capability_get_403(everyone, web, api, username):
    user = everyone[username]
    assert web(user).get(reverse("leads:import")).status_code == 403
    assert web(user).get(reverse("leads:import-template")).status_code == 403
    assert api(user).post(IMPORT_URL, {"file": upload([])}, format="multipart").status_code == 403
    assert api(user).get(TEMPLATE_URL).status_code == 403
    assert not Lead.objects.exists()


def test_anonymous_api_call_gets_401(api, db):
    assert api().post(IMPORT_URL, {"file": upload([])}, format="multipart").status_code == 401


def test_supervisor_imports_unassigned_leads_into_her_store(sue, api):
    response = api(sue).post(
        IMPORT_URL, {"file": upload([row(name="张伟", phone="13812345678")])}, format="multipart"
    )

    assert response.status_code == 200
    assert response.json()["created"] == 1
    lead = Lead.objects.get()
    assert (lead.store, lead.owner, lead.created_by) == (sue.store, None, sue)


def test_manager_of_store_b_imports_into_store_b_only(mary, api, store_a, store_b):
    client = api(mary)
    response = client.post(
        IMPORT_URL, {"file": upload([row(name="张伟", phone="13812345678")])}, format="multipart"
    )
    assert response.status_code == 200
    assert Lead.objects.get().store == store_b

    response = client.post(
        IMPORT_URL,
        {"file": upload([row(name="李娜", phone="13912345678")]), "store": store_a.pk},
        format="multipart",
    )
    assert response.status_code == 400
    assert "store" in response.json()
    assert Lead.objects.count() == 1


def test_group_admin_names_the_store(root, api, store_b):
    client = api(root)
    rows = [row(name="张伟", phone="13812345678")]

    response = client.post(IMPORT_URL, {"file": upload(rows)}, format="multipart")
    assert response.status_code == 400
    assert "store" in response.json()

    response = client.post(
        IMPORT_URL, {"file": upload(rows), "store": store_b.pk}, format="multipart"
    )
    assert response.status_code == 200
    assert Lead.objects.get().store == store_b


# ---------------------------------------------------------------- the API


def test_api_answers_the_contract(mike, api, alice, make_lead):
    existing = make_lead(alice, phone="13812345678")
    rows = [
        row(name="张伟", phone="13812345678"),
        row(name="李娜", phone="13912345678"),
        row(name="赵敏", phone="oops"),
    ]

    response = api(mike).post(IMPORT_URL, {"file": upload(rows)}, format="multipart")

    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["duplicates"]) == (0, 1)
    assert body["errors"] == [{"row": 4, "field": "phone", "message": body["errors"][0]["message"]}]
    assert body["duplicate_rows"][0]["existing_lead"] == existing.pk
    assert body["duplicate_rows"][0]["owner"] == alice.pk

    response = api(mike).post(
        IMPORT_URL, {"file": upload(rows), "partial": "true"}, format="multipart"
    )
    assert response.status_code == 200
    assert response.json()["created"] == 1
    assert Lead.objects.filter(created_by=mike).count() == 1


@pytest.mark.parametrize(
    "payload",
    [
        {"file": SimpleUploadedFile("leads.csv", b"\x00\x01\x02binary\x00" * 10)},
        {"file": SimpleUploadedFile("leads.csv", b"")},
        {"file": SimpleUploadedFile("leads.xlsx", b"PK\x03\x04 not really a zip")},
        {"file": SimpleUploadedFile("leads.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64)},
        {},
    ],
)
def test_api_refuses_a_file_it_cannot_read(mike, api, payload):
    response = api(mike).post(IMPORT_URL, payload, format="multipart")

    assert response.status_code == 400
    assert list(response.json()) == ["file"]
    assert response.json()["file"][0]


def test_api_schema_documents_the_multipart_body(api, db):
    schema = api().get("/api/v1/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/leads/import/"]["post"]
    body = operation["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    fields = schema["components"]["schemas"][body.rsplit("/", 1)[1]]["properties"]
    assert {"file", "partial", "store"} <= set(fields)
    template = schema["paths"]["/api/v1/leads/import/template/"]["get"]
    assert importer.XLSX_CONTENT_TYPE in template["responses"]["200"]["content"]


# ---------------------------------------------------------------- the template


def _check_template(response, envision):
    assert response.status_code == 200
    assert response["Content-Type"] == importer.XLSX_CONTENT_TYPE
    assert 'filename="lead-import-template.xlsx"' in response["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == [importer.SHEET_TITLE, importer.HELP_SHEET_TITLE]
    sheet = workbook[importer.SHEET_TITLE]
    assert [c.value for c in sheet[1]] == HEADER
    assert sheet.max_row == 1  # no example row that could be imported by accident
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["J"].width > sheet.column_dimensions["F"].width
    help_text = {
        str(c.value) for r in workbook[importer.HELP_SHEET_TITLE].iter_rows() for c in r if c.value
    }
    assert {"autohome", "汽车之家", "web", "H", "C", envision.name, "手机号", "phone"} <= help_text
    return workbook


def test_template_from_the_page_and_the_api(sue, web, api, envision):
    _check_template(web(sue).get(reverse("leads:import-template")), envision)
    _check_template(api(sue).get(TEMPLATE_URL), envision)


def test_the_downloaded_template_with_rows_appended_imports(mike, api, envision):
    workbook = _check_template(api(mike).get(TEMPLATE_URL), envision)
    sheet = workbook[importer.SHEET_TITLE]
    sheet.append(
        ["张伟", "13812345678", "web", "汽车之家", "昂科威", "H", None, None, None, "备注"]
    )
    sheet.append(["李娜", 13912345678, None, None, None, None, None, None, None, None])
    buffer = io.BytesIO()
    workbook.save(buffer)

    response = api(mike).post(
        IMPORT_URL,
        {"file": SimpleUploadedFile("filled.xlsx", buffer.getvalue())},
        format="multipart",
    )

    assert response.status_code == 200
    assert response.json() | {"created": 2, "errors": []} == response.json()
    assert Lead.objects.get(phone="+8613812345678").intended_model == envision


# ---------------------------------------------------------------- the page


def test_page_shows_the_form_and_the_template_link(sue, web):
    html = web(sue).get(reverse("leads:import")).content.decode()

    assert reverse("leads:import-template") in html
    assert 'type="file"' in html
    assert 'name="partial"' in html
    assert 'name="store"' not in html  # only a group administrator picks the store


def test_group_admin_sees_the_store_select(root, web, store_a, store_b):
    html = web(root).get(reverse("leads:import")).content.decode()
    assert 'name="store"' in html
    assert store_b.name in html


def test_group_admin_imports_into_the_store_chosen_on_the_page(root, web, store_a, store_b):
    client = web(root)
    rows = [row(name="张伟", phone="13812345678")]

    response = client.post(reverse("leads:import"), {"file": upload(rows)})
    assert response.context["form"].errors["store"]
    assert not Lead.objects.exists()

    response = client.post(reverse("leads:import"), {"file": upload(rows), "store": store_b.pk})
    assert response.context["result"].created == 1
    assert Lead.objects.get().store == store_b


def test_page_import_reports_created_duplicates_and_errors(mike, alice, web, make_lead):
    existing = make_lead(alice, phone="13812345678")
    rows = [
        row(name="张伟", phone="13812345678"),
        row(name="李娜", phone="13912345678"),
        row(name="赵敏", phone="oops"),
    ]

    response = web(mike).post(reverse("leads:import"), {"file": upload(rows), "partial": "on"})

    assert response.status_code == 200
    html = response.content.decode()
    assert response.context["result"].created == 1
    assert "138****5678" in html
    assert "13812345678" not in html
    assert reverse("desk:lead", args=[existing.pk]) in html
    assert alice.display_name in html
    assert 'data-testid="import-error-table"' in html
    assert "oops" in html
    assert Lead.objects.count() == 2


def test_page_without_partial_creates_nothing_and_says_so(mike, web):
    rows = [row(name="张伟", phone="13812345678"), row(name="赵敏", phone="oops")]

    response = web(mike).post(reverse("leads:import"), {"file": upload(rows)})

    assert response.context["result"].rejected
    assert 'data-testid="import-rejected"' in response.content.decode()
    assert not Lead.objects.exists()


def test_page_htmx_post_returns_the_panel_only(mike, web):
    response = web(mike).post(
        reverse("leads:import"),
        {"file": upload([row(name="张伟", phone="13812345678")])},
        HTTP_HX_REQUEST="true",
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="import-panel">')
    assert "<html" not in html
    assert Lead.objects.count() == 1


def test_page_refuses_a_file_it_cannot_read(mike, web):
    response = web(mike).post(
        reverse("leads:import"),
        {"file": SimpleUploadedFile("leads.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1junk")},
    )

    assert response.status_code == 200
    assert response.context["form"].errors["file"]
    assert response.context["result"] is None


# ---------------------------------------------------------------- speed


def test_import_queries_do_not_grow_with_rows(mike, bob, envision, django_assert_max_num_queries):
    rows = [
        row(
            name=f"客户{i:03d}",
            phone=f"138{i:08d}",
            channel="autohome",
            intended_model="昂科威",
            owner="bob" if i % 2 else None,
            received_at="2024-05-01 10:00",
        )
        for i in range(200)
    ]
    content = workbook_bytes(rows)

    # A constant: the lists (with their aliases), the profile by header,
    # the import's history row; never a query per row.
    with django_assert_max_num_queries(46):
        result = importer.lead_import(actor=mike, file=io.BytesIO(content))

    assert (result.created, result.errors) == (200, [])


# ---------------------------------------------------------------- the race


@pytest.mark.postgres  # row locks that block
@pytest.mark.django_db(transaction=True)
def test_a_phone_entered_during_the_import_becomes_a_duplicate(mike, alice, envision, caplog):
    """The duplicate check runs before the insert; someone entering one of the
    file's phones in between makes the unique constraint fire, and the
    import retries once, reporting that row as a duplicate."""
    caplog.set_level(logging.INFO, logger="leads.importer")
    entered, release, results = threading.Event(), threading.Event(), {}

    def enter_by_hand():
        try:
            with transaction.atomic():
                results["lead"] = lead_create(
                    actor=alice,
                    store=alice.store,
                    name="王五",
                    phone="13812345678",
                    source=Source.WEB,
                )
                entered.set()
                release.wait(10)
        finally:
            connections.close_all()

    def import_file():
        try:
            rows = [row(name="张伟", phone="13812345678"), row(name="李娜", phone="13912345678")]
            results["import"] = run(mike, rows)
        finally:
            connections.close_all()

    hand = threading.Thread(target=enter_by_hand)
    hand.start()
    assert entered.wait(10)
    upload_thread = threading.Thread(target=import_file)
    upload_thread.start()
    # Let the import reach its INSERT and wait on the uncommitted row.
    deadline = time.monotonic() + 10
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            if cursor.fetchone()[0]:
                break
            time.sleep(0.05)
    release.set()
    hand.join(10)
    upload_thread.join(10)

    result = results["import"]
    assert (result.created, result.duplicate_count) == (1, 1)
    assert result.duplicates[0].existing_lead_id == results["lead"].pk
    assert Lead.objects.filter(phone="+8613812345678").count() == 1
    assert "retrying" in caplog.text  # the constraint fired: the retry path ran
    assert "retrying" in caplog.text  # the constraint fired: the retry path ran


def test_the_template_help_sheet_headings_read_right_in_chinese(db):
    """Issue 13 point 9: a channel's or a model's name is 名称, not a
    person's 姓名; every heading of the help sheet is Chinese."""
    import io

    from django.utils import translation
    from openpyxl import load_workbook

    from leads.importer import HELP_SHEET_TITLE, template_workbook

    with translation.override("zh-hans"):
        book = load_workbook(io.BytesIO(template_workbook()))
    values = [row[0:2] for row in book[HELP_SHEET_TITLE].iter_rows(values_only=True) if any(row)]
    headings = [tuple(v for v in row if v) for row in values]
    assert ("编码", "名称") in headings
    assert ("列", "英文列名") in headings
    assert not any(cell == "姓名" for row in values for cell in row[1:2])
    assert "How to" not in str(values)
