"""Vendor call-log exports (issue 15): FreePBX and Issabel web reports,
Yeastar P/S-Series, 3CX CDR log and call log, FreeSWITCH cdr_csv.

Each hand-written sample (tests/telephony/samples/<vendor>/) is written as
the product writes it (docs/telephony-formats.md); each call is checked for
the fields issue 14 gives every call: who answered, ring, wait, talk, the
extensions. No database.
"""

import io
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.utils import translation

from telephony.parsers import ParseError, SourceConfig, group_calls, only_records, parse
from telephony.parsers.tabular import FileRejected, party, seconds

SAMPLES = Path(__file__).parent / "samples"


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def config(format, **extra):
    return SourceConfig(
        format=format, tz="Asia/Shanghai", dial_prefixes=("9",), area_code="025", **extra
    )


def calls_of(name, cfg):
    errors = []
    with (SAMPLES / name).open("rb") as fileobj:
        calls = list(group_calls(only_records(parse(fileobj, cfg), errors)))
    assert errors == []
    return sorted(calls, key=lambda call: call.started_at)


def shape(call):
    return (
        call.direction,
        call.extension,
        call.external_number,
        call.answered_by,
        call.ring_seconds,
        call.wait_seconds,
        call.billsec,
        call.extensions,
    )


def test_durations_and_parties_as_vendors_write_them():
    assert seconds("2m 30s", "d") == 150
    assert seconds("0:01:40", "d") == 100
    assert seconds("02:30", "d") == 150
    assert seconds("2分30秒", "d") == 150
    assert seconds("1h 2m 3s", "d") == 3723
    assert party("Alice<8001>") == ("8001", "Alice")
    assert party('"王先生" <13812345678>') == ("13812345678", "王先生")
    assert party("Alice (610)") == ("610", "Alice")
    assert party("Ext.610") == ("610", "")
    with pytest.raises(ValueError, match="scientific notation"):
        seconds("1.5E+3", "d")


def test_freepbx_web_export_derives_answer_and_end():
    inbound, outbound, voicemail = calls_of("freepbx/cdr_export.csv", config("freepbx_web"))
    assert inbound.started_at == datetime(2026, 11, 3, 1, 0, tzinfo=UTC)
    assert shape(inbound) == ("inbound", "8001", "+8613812345678", "agent", 15, 15, 80, ("8001",))
    assert inbound.ended_at == datetime(2026, 11, 3, 1, 1, 35, tzinfo=UTC)
    assert shape(outbound) == ("outbound", "8002", "+8613912345678", "none", None, 30, 0, ())
    assert voicemail.answered_by == "system"
    assert voicemail.billsec == 0
    assert voicemail.extension is None


def test_issabel_report_in_chinese_with_minutes_and_seconds():
    answered, missed = calls_of("issabel/cdr_report_zh.csv", config("freepbx_web"))
    assert shape(answered) == ("inbound", "8001", "+8613812345678", "agent", 0, 0, 150, ("8001",))
    assert shape(missed)[:4] == ("outbound", "8002", "+8613912345678", "none")


def test_issabel_report_in_english():
    (call,) = calls_of("issabel/cdr_report_en.csv", config("freepbx_web"))
    assert (call.extension, call.answered_by, call.billsec) == ("8003", "agent", 65)


def test_yeastar_p_series_with_the_day_first_display_setting():
    inbound, outbound, voicemail, internal = calls_of(
        "yeastar/p_series.csv", config("yeastar", date_order="dmy")
    )
    assert inbound.started_at == datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
    assert shape(inbound) == ("inbound", "8001", "+8613812345678", "agent", 12, 12, 88, ("8001",))
    assert shape(outbound) == ("outbound", "8002", "+8613912345678", "none", None, 25, 0, ())
    assert (voicemail.answered_by, voicemail.billsec, voicemail.extension) == ("system", 0, None)
    assert (internal.direction, internal.extension, internal.answered_by) == (
        "internal",
        "8001",
        "agent",
    )
    assert internal.billsec == 25


def test_yeastar_s_series_month_first_without_ring_duration():
    inbound, outbound = calls_of("yeastar/s_series.csv", config("yeastar", date_order="mdy"))
    assert inbound.started_at == datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
    assert shape(inbound) == ("inbound", "8001", "+8613812345678", "agent", 12, 12, 88, ("8001",))
    assert shape(outbound) == ("outbound", "8002", "+8613912345678", "agent", 15, 15, 30, ("8002",))


def test_3cx_cdr_log_in_utc():
    inbound, outbound, voicemail = calls_of("threecx/cdr.log", replace(config("threecx"), tz="UTC"))
    assert shape(inbound) == ("inbound", "610", "+8613812345678", "agent", 10, 10, 90, ("610",))
    assert shape(outbound) == ("outbound", "611", "+8613912345678", "none", None, 20, 0, ())
    assert (voicemail.answered_by, voicemail.billsec) == ("system", 0)


def test_3cx_call_log_export():
    answered, missed = calls_of("threecx/call_log.csv", config("threecx"))
    assert shape(answered) == ("inbound", "610", "+8613812345678", "agent", 8, 8, 120, ("610",))
    assert shape(missed)[:4] == ("outbound", "611", "+8613912345678", "none")


def test_freeswitch_a_and_b_legs_make_one_call():
    bridged, missed, ivr = calls_of("freeswitch/Master.csv", config("freeswitch_csv"))
    assert len(bridged.legs) == 2
    assert shape(bridged) == ("inbound", "8001", "+8613812345678", "agent", 15, 15, 90, ("8001",))
    assert shape(missed) == ("outbound", "8002", "+8613912345678", "none", None, 20, 0, ())
    assert (ivr.answered_by, ivr.billsec, ivr.extension) == ("system", 0, None)


def test_excel_resaved_numbers_are_rejected_not_merged():
    text = (
        (SAMPLES / "yeastar/p_series.csv")
        .read_text()
        .replace("1793412300.11,", "1.79341E+09,")
        .replace("1793412600.12,", "1.79341E+09,")
    )
    items = list(parse(io.BytesIO(text.encode()), config("yeastar", date_order="dmy")))
    errors = [item for item in items if isinstance(item, ParseError)]
    assert [error.line for error in errors] == [3, 4]
    assert "scientific notation" in errors[0].message
    assert sum(not isinstance(item, ParseError) for item in items) == 2


def test_a_foreign_header_refuses_the_whole_file():
    data = (SAMPLES / "yeastar/p_series.csv").read_bytes()
    with pytest.raises(FileRejected, match="not a FreePBX / Issabel CDR report export"):
        list(parse(io.BytesIO(data), config("freepbx_web")))
    with pytest.raises(FileRejected, match="not a Yeastar CDR export"):
        list(parse(io.BytesIO(b"calldate,src,dst\n"), config("yeastar")))
