"""Format detection and whole-file refusal (issue 15): every sample is
recognised as itself; files no parser reads are refused with one message
saying what they look like, through the API, the page and the command —
never "done, imported 0"."""

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import translation

from telephony.models import Call, CallImport, ImportStatus
from telephony.parsers import FileRejected
from telephony.parsers.detect import detect
from telephony.services import rotation_order

SAMPLES = Path(__file__).parent / "samples"
IMPORTS = "/api/v1/telephony/cdr-imports/"

RECOGNISED = {
    "master_basic.csv": "asterisk_csv",
    "master_bom.csv": "asterisk_csv",
    "master_gbk.csv": "asterisk_csv",
    "master_transfer.csv": "asterisk_csv",
    "card_index.csv": "card_index",
    "freepbx/cdr_export.csv": "freepbx_web",
    "issabel/cdr_report_zh.csv": "freepbx_web",
    "issabel/cdr_report_en.csv": "freepbx_web",
    "yeastar/p_series.csv": "yeastar",
    "yeastar/s_series.csv": "yeastar",
    "threecx/cdr.log": "threecx",
    "threecx/call_log.csv": "threecx",
    "freeswitch/Master.csv": "freeswitch_csv",
}
EXCEL_RESAVED = (
    b',8001,913912345678,from-internal,"""Alice"" <8001>",PJSIP/8001-00000001,'
    b"PJSIP/trunk-1,Dial,x,2026/11/3 9:01,2026/11/3 9:01,2026/11/3 9:02,60,50,ANSWERED,"
    b"DOCUMENTATION,1793408400\n"
)
FOREIGN = {
    "workbook.xlsx": (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 40, "Excel workbook (.xlsx)"),
    "old.xls": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40, "Excel workbook (.xls)"),
    "report.pdf": (b"%PDF-1.4\n...", "PDF report"),
    "report.html": (b"<html><table><tr><td>ID</td></tr></table>", "web page (HTML)"),
    "resaved.csv": (EXCEL_RESAVED, "saved again in Excel"),
    "avaya.csv": (
        (
            b"Call Start,Connected Time,Caller,Direction,Called Number,Dialled Number\n"
            b"2026/11/03 10:00:00,00:01:00,8001,O,013912345678,913912345678\n"
        ),
        "not a call log DCC can read",
    ),
}


NEUTRAL = {"workbook.xlsx": ".xlsx", "resaved.csv": "8.61392E+12", "avaya.csv": "Call Start"}


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.mark.parametrize(("name", "expected"), sorted(RECOGNISED.items()))
def test_each_sample_is_recognised_as_itself(name, expected):
    assert detect((SAMPLES / name).read_bytes()[:8192]) == expected


@pytest.mark.parametrize("name", sorted(FOREIGN))
def test_foreign_files_are_refused_with_what_they_look_like(name):
    data, message = FOREIGN[name]
    with pytest.raises(FileRejected, match=message.replace("(", r"\(").replace(")", r"\)")):
        detect(data)


def test_rotated_logs_are_imported_oldest_first():
    names = ["Master.csv", "Master.csv.1", "Master.csv-20261103", "Master.csv.2", "other.csv"]
    ordered = [p.name for p in rotation_order(Path(n) for n in names)]
    assert ordered == [
        "Master.csv.2",
        "Master.csv.1",
        "Master.csv-20261103",
        "Master.csv",
        "other.csv",
    ]


@pytest.mark.django_db
def test_api_without_format_recognises_yeastar_and_says_so(api, sue, store_a, alice, bob):
    content = (SAMPLES / "yeastar/p_series.csv").read_bytes().replace(b"03/11/2026", b"2026-11-03")
    response = api(sue).post(
        IMPORTS,
        {"file": SimpleUploadedFile("cdr.csv", content, content_type="text/csv")},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    assert response.json()["format"] == "yeastar"
    assert Call.objects.count() == 4


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["workbook.xlsx", "resaved.csv", "avaya.csv"])
def test_api_refuses_an_unreadable_file_with_a_400(api, sue, store_a, name):
    data = FOREIGN[name][0]
    response = api(sue).post(
        IMPORTS,
        {"file": SimpleUploadedFile(name, data, content_type="text/csv")},
        format="multipart",
    )
    assert response.status_code == 400
    # The user's language (zh-hans) speaks: check what no translation changes.
    assert NEUTRAL[name] in str(response.json())
    assert not CallImport.objects.filter(status=ImportStatus.DONE).exists()


@pytest.mark.django_db
def test_a_foreign_header_with_a_chosen_format_is_a_400_not_zero_imported(api, sue, store_a):
    response = api(sue).post(
        IMPORTS,
        {
            "file": SimpleUploadedFile(
                "cdr.csv", (SAMPLES / "yeastar/p_series.csv").read_bytes(), content_type="text/csv"
            ),
            "format": "freepbx_web",
        },
        format="multipart",
    )
    assert response.status_code == 400
    assert "calldate, src, dst, billsec" in str(response.json())
    report = CallImport.objects.get()
    assert report.status == ImportStatus.FAILED


@pytest.mark.django_db
def test_page_refuses_an_excel_workbook_with_a_form_error(web, sue, store_a):
    data, _message = FOREIGN["workbook.xlsx"]
    response = web(sue).post(
        reverse("telephony:imports"),
        {"file": SimpleUploadedFile("calls.xlsx", data), "format": ""},
    )
    assert response.status_code == 200
    assert "Excel" in response.content.decode()
    assert not CallImport.objects.exists()


@pytest.mark.django_db
def test_command_recognises_the_format_and_refuses_a_workbook(tmp_path, store_a, alice):
    path = tmp_path / "Master.csv"
    path.write_bytes((SAMPLES / "freeswitch/Master.csv").read_bytes())
    out = io.StringIO()
    call_command("import_calls", str(path), "--store", store_a.code, stdout=out)
    assert "(freeswitch_csv)" in out.getvalue()
    book = tmp_path / "calls.xlsx"
    book.write_bytes(FOREIGN["workbook.xlsx"][0])
    with pytest.raises(CommandError, match="Excel workbook"):
        call_command("import_calls", str(book), "--store", store_a.code, stdout=out)
