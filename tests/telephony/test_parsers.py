"""Call-log parsers on hand-written Asterisk/FreePBX/recording-card samples.

No database: parsers turn files into records and line errors, nothing more.
"""

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.utils import translation

from telephony.parsers import (
    ParseError,
    SourceConfig,
    channel_peer,
    group_calls,
    only_records,
    parse,
)
from telephony.parsers.freepbx_recordings import RecordingNameError, parse_name

SAMPLES = Path(__file__).parent / "samples"
SHANGHAI = SourceConfig(tz="Asia/Shanghai", dial_prefixes=("9", "0"), area_code="021")


@pytest.fixture(autouse=True)
def english():
    """The messages below in their source language (they are translated)."""
    with translation.override("en"):
        yield


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def read(name, config=SHANGHAI):
    with (SAMPLES / name).open("rb") as fileobj:
        return list(parse(fileobj, config))


def legs_of(name, config=SHANGHAI):
    items = read(name, config)
    assert [item for item in items if isinstance(item, ParseError)] == []
    return items


# ---------------------------------------------------------------- Master.csv


def test_answered_inbound_to_an_extension():
    leg = legs_of("master_basic.csv")[0]
    assert leg.line == 1
    assert (leg.direction, leg.extension) == ("inbound", "8001")
    assert (leg.external_raw, leg.external_number) == ("13812345678", "+8613812345678")
    assert leg.clid == '"王先生" <13812345678>'
    assert (leg.disposition, leg.duration, leg.billsec) == ("ANSWERED", 125, 120)
    # Written in Shanghai time, kept as aware UTC.
    assert leg.started_at == utc(2024, 1, 15, 2, 30, 0)
    assert leg.answered_at == utc(2024, 1, 15, 2, 30, 5)
    assert leg.ended_at == utc(2024, 1, 15, 2, 32, 5)
    assert (leg.uniqueid, leg.linkedid, leg.sequence) == ("1705285800.1", "1705285800.1", "1")
    assert leg.key == "cdr:1705285800.1:1705285800.1:1"
    assert len(leg.raw) == 21


def test_outbound_strips_the_outside_line_prefixes_9_and_0():
    legs = legs_of("master_basic.csv")
    nine, zero = legs[1], legs[2]
    assert (nine.direction, nine.extension, nine.external_raw) == (
        "outbound",
        "8001",
        "913912345678",
    )
    assert nine.external_number == "+8613912345678"
    assert (zero.external_raw, zero.external_number) == ("013712345678", "+8613712345678")


def test_internal_extension_to_extension_has_no_customer():
    leg = legs_of("master_basic.csv")[3]
    assert (leg.direction, leg.extension) == ("internal", "8001")
    assert (leg.external_raw, leg.external_number) == ("", None)


def test_no_answer_busy_failed():
    legs = legs_of("master_basic.csv")
    no_answer, busy, failed = legs[4], legs[5], legs[6]
    assert (no_answer.disposition, no_answer.answered_at, no_answer.billsec) == (
        "NO ANSWER",
        None,
        0,
    )
    assert (no_answer.direction, no_answer.extension) == ("inbound", "8002")
    assert (busy.disposition, busy.direction, busy.extension) == ("BUSY", "outbound", "8002")
    assert busy.external_number == "+8613812345670"
    # A failed call never got a destination channel: still outbound from 8002.
    assert (failed.disposition, failed.direction, failed.extension) == (
        "FAILED",
        "outbound",
        "8002",
    )
    assert failed.dstchannel == ""


def test_local_landlines_get_the_stores_area_code():
    legs = legs_of("master_basic.csv")
    dialled, calling = legs[7], legs[8]
    assert (dialled.external_raw, dialled.external_number) == ("962345678", "+862162345678")
    assert (calling.direction, calling.external_number) == ("inbound", "+862162345679")
    # Answered through a queue: the agent is the Local channel's extension.
    assert calling.extension == "8003"


def test_without_an_area_code_a_local_landline_stays_unnormalised():
    config = SourceConfig(tz="Asia/Shanghai", dial_prefixes=("9",))
    leg = legs_of("master_basic.csv", config)[8]
    assert (leg.external_raw, leg.external_number) == ("62345679", None)


def test_times_follow_the_sources_time_zone():
    local = legs_of("master_basic.csv")[0]
    gmt = legs_of("master_basic.csv", SourceConfig(tz="UTC"))[0]
    assert gmt.started_at == utc(2024, 1, 15, 10, 30, 0)
    assert gmt.started_at - local.started_at == (utc(2024, 1, 1, 8) - utc(2024, 1, 1))
    assert local.started_at.tzinfo is UTC


def test_bad_lines_are_reported_with_their_numbers_and_good_lines_kept():
    items = read("master_malformed.csv")
    errors = [item for item in items if isinstance(item, ParseError)]
    good = [item for item in items if not isinstance(item, ParseError)]
    assert [leg.line for leg in good] == [1, 3, 7, 10]
    assert [error.line for error in errors] == [2, 5, 6, 8, 9]
    messages = {error.line: error.message for error in errors}
    assert messages[2] == "14 columns, expected 16–21"
    assert "start is not a date and time: '2024-13-45 11:00:00'" in messages[5]
    assert "malformed CSV" in messages[6]
    assert messages[8] == "unknown disposition 'HUNG UP'"
    assert messages[9] == "duration is not a whole number of seconds: 'thirty'"
    assert str(errors[0]).startswith("line 2: ")
    # The line after the unterminated quote is read on its own.
    assert good[2].uniqueid == "1705287000.9"


def test_undecodable_bytes_are_a_line_error():
    good = (SAMPLES / "master_bom.csv").read_bytes().removeprefix(b"\xef\xbb\xbf")
    first, second = good.splitlines(keepends=True)
    data = first + b'"","\xff\xff","8001"\n' + second
    items = list(parse(io.BytesIO(data), SHANGHAI))
    assert isinstance(items[1], ParseError)
    assert items[1].line == 2
    assert "undecodable" in items[1].message
    assert [item.line for item in (items[0], items[2])] == [1, 3]


def test_gbk_file_with_a_chinese_caller_name():
    items = legs_of("master_gbk.csv")
    first, _, third = items
    assert first.clid == '"王先生" <13812345678>'
    # DAHDI analog trunk lines are not extensions; 801 (3 digits) is.
    assert (first.direction, first.extension, first.external_number) == (
        "inbound",
        "801",
        "+8613812345678",
    )
    assert third.clid == '"张女士（周末来店）" <02162345678>'
    # No src: the caller's number comes from the caller id.
    assert (third.external_raw, third.external_number) == ("02162345678", "+862162345678")
    # 16 columns: no uniqueid, so the row's content is its identity.
    assert first.uniqueid == ""
    assert first.key.startswith("row:")


def test_a_gbk_and_a_utf8_copy_of_a_row_have_one_content_key():
    gbk = (SAMPLES / "master_gbk.csv").read_bytes()
    utf8 = gbk.decode("gbk").encode("utf-8")
    keys = [[leg.key for leg in parse(io.BytesIO(data), SHANGHAI)] for data in (gbk, utf8)]
    assert keys[0] == keys[1]


def test_utf8_file_with_a_bom():
    first, second = legs_of("master_bom.csv", SourceConfig(tz="UTC"))
    assert first.raw[0] == ""  # the BOM is not part of the first field
    assert first.clid == '"李女士" <13812345678>'
    assert first.started_at == utc(2024, 1, 15, 2, 30)
    assert first.uniqueid == "1705285800.1"
    assert (second.direction, second.extension) == ("outbound", "8001")


def test_a_text_mode_file_is_read_too():
    text = (SAMPLES / "master_basic.csv").read_text(encoding="utf-8")
    legs = list(parse(io.StringIO(text), SHANGHAI))
    assert [leg.uniqueid for leg in legs] == [leg.uniqueid for leg in legs_of("master_basic.csv")]


def test_a_column_map_reads_a_cdr_custom_order():
    # cdr_custom: clid first, accountcode after amaflags (TELEPHONY.md).
    columns = (
        "clid",
        "src",
        "dst",
        "dcontext",
        "channel",
        "dstchannel",
        "lastapp",
        "lastdata",
        "start",
        "answer",
        "end",
        "duration",
        "billsec",
        "disposition",
        "amaflags",
        "accountcode",
        "uniqueid",
    )
    line = (
        '"""王先生"" <13812345678>","13812345678","4008001234","from-trunk",'
        '"PJSIP/ct-trunk-00000001","PJSIP/8001-00000002","Dial","PJSIP/8001,30",'
        '"2024-01-15 10:30:00","2024-01-15 10:30:05","2024-01-15 10:32:05",125,120,'
        '"ANSWERED","DOCUMENTATION","","1705285800.1"\n'
        '"x","8001","8002"\n'
    )
    config = SourceConfig(tz="Asia/Shanghai", columns=columns)
    leg, error = parse(io.BytesIO(line.encode()), config)
    assert (leg.direction, leg.extension, leg.external_number) == (
        "inbound",
        "8001",
        "+8613812345678",
    )
    assert (leg.uniqueid, leg.billsec) == ("1705285800.1", 120)
    assert error == ParseError(2, "3 columns, expected 17")


def test_a_column_map_must_name_the_required_columns():
    # Refused when the source's settings are built (saved), not on import.
    with pytest.raises(ValueError, match="lacks channel, start, end"):
        SourceConfig(columns=("src", "dst"))


def test_a_config_rejects_unknown_formats_and_zones():
    with pytest.raises(ValueError, match="Unknown call-log format"):
        SourceConfig(format="nortel")
    with pytest.raises(Exception, match="Mars"):
        SourceConfig(tz="Mars/Olympus")


@pytest.mark.parametrize(
    ("channel", "peer"),
    [
        ("PJSIP/8001-0000002a", "8001"),
        ("SIP/801-00000001", "801"),
        ("Local/8003@from-queue-00000001;2", "8003"),
        ("PJSIP/ct-trunk-00000004", "ct-trunk"),
        ("DAHDI/1-1", "1"),
        ("", ""),
    ],
)
def test_channel_peer(channel, peer):
    assert channel_peer(channel) == peer


# ---------------------------------------------------------------- calls


def calls_of(name, config=SHANGHAI):
    errors = []
    calls = list(group_calls(only_records(read(name, config), errors)))
    assert errors == []
    return calls


def test_a_transferred_call_is_one_call_with_its_legs_kept():
    transferred, _ = calls_of("master_transfer.csv")
    assert transferred.key == "1705298400.20"
    # Four lines, one of them a duplicate: three legs.
    assert [leg.line for leg in transferred.legs] == [1, 3, 2]
    assert transferred.direction == "inbound"
    assert transferred.disposition == "ANSWERED"
    assert transferred.external_number == "+8613812345678"
    # Alice took the call, then handed it to Bob.
    assert (transferred.extension, transferred.extensions) == ("8001", ("8001", "8002"))
    assert transferred.started_at == utc(2024, 1, 15, 6, 0, 0)
    assert transferred.answered_at == utc(2024, 1, 15, 6, 0, 5)
    assert transferred.ended_at == utc(2024, 1, 15, 6, 2, 35)
    assert transferred.duration == 155
    # 60 s with Alice + 90 s with Bob; the 25 s consultation between them
    # (the customer on hold) is not talk time with the customer.
    assert transferred.billsec == 150
    assert sum(leg.billsec for leg in transferred.legs) == 175


def test_parallel_ringing_credits_the_extension_that_answered():
    _, ring_group = calls_of("master_transfer.csv")
    assert len(ring_group.legs) == 2
    assert (ring_group.disposition, ring_group.extension) == ("ANSWERED", "8004")
    assert ring_group.billsec == 60


def test_single_leg_calls_and_unanswered_calls():
    calls = calls_of("master_basic.csv")
    assert len(calls) == 9
    assert all(len(call.legs) == 1 for call in calls)
    no_answer = calls[4]
    assert (no_answer.disposition, no_answer.billsec, no_answer.answered_at) == (
        "NO ANSWER",
        0,
        None,
    )
    assert no_answer.extension == "8002"
    internal = calls[3]
    assert (internal.direction, internal.billsec, internal.external_number) == (
        "internal",
        60,
        None,
    )


def test_duplicate_lines_without_uniqueid_collapse_by_content():
    calls = calls_of("master_gbk.csv")
    assert len(calls) == 2
    assert len(calls[0].legs) == 1
    assert calls[0].key == calls[0].legs[0].key


def test_calls_are_flushed_once_the_file_has_moved_on():
    legs = legs_of("master_basic.csv")
    late = legs_of("master_transfer.csv")[:1]
    seen = []
    for call in group_calls([*legs[:2], *late]):
        seen.append(call.key)
    assert seen == ["1705285800.1", "1705286100.3", "1705298400.20"]
    flushed = group_calls(iter([*legs[:2], *late]), window=utc(2024, 1, 1, 1) - utc(2024, 1, 1))
    first = next(flushed)  # flushed before the last leg is grouped
    assert first.key == "1705285800.1"


# ---------------------------------------------------------------- recordings


def test_recording_file_names():
    items = read("recordings.csv", SourceConfig(format="freepbx_recordings", **_shanghai()))
    inbound, outbound, external, internal, no_uniqueid, dashed = items[:6]
    assert (inbound.kind, inbound.direction, inbound.dest, inbound.src) == (
        "in",
        "inbound",
        "4008001234",
        "13812345678",
    )
    assert inbound.external_number == "+8613812345678"
    assert inbound.extension is None
    assert inbound.started_at == utc(2024, 1, 15, 2, 30)
    assert (inbound.uniqueid, inbound.fmt) == ("1705285800.1", "wav")
    assert inbound.name.startswith("in-4008001234")
    assert inbound.path.startswith("/var/spool/asterisk/monitor/2024/01/15/")
    assert (outbound.direction, outbound.extension, outbound.external_number) == (
        "outbound",
        "8001",
        "+8613912345678",
    )
    assert (external.direction, external.extension, external.external_number) == (
        "inbound",
        "8001",
        "+8613812345678",
    )
    assert (internal.direction, internal.extension, internal.external_number) == (
        "internal",
        "8001",
        None,
    )
    assert (no_uniqueid.uniqueid, no_uniqueid.fmt) == ("", "mp3")
    assert no_uniqueid.external_number == "+862162345678"
    assert (dashed.uniqueid, dashed.src, dashed.fmt) == (
        "Asterisk-01-1362424276.2",
        "13812345678",
        "wav",
    )


def _shanghai():
    return {"tz": "Asia/Shanghai", "dial_prefixes": ("9", "0"), "area_code": "021"}


def test_odd_recording_names_are_rejected_with_a_clear_message():
    items = read("recordings.csv", SourceConfig(format="freepbx_recordings", **_shanghai()))
    errors = items[6:]
    assert [error.line for error in errors] == [7, 8, 9]
    assert "'voicemail-msg0001.wav' is not a FreePBX recording name" in errors[0].message
    assert "20241315-103000 is not a date and time" in errors[1].message
    assert "unknown recording type 'meeting'" in errors[2].message


@pytest.mark.parametrize(
    ("name", "kind", "direction", "extension"),
    [
        ("q-500-13812345678-20240115-103000-1705285800.1.wav", "q", "inbound", None),
        ("rg-600-8001-20240115-103000-1705285800.1.wav", "rg", "internal", "8001"),
        ("ondemand-913812345678-8001-20240115-103000.wav", "ondemand", "outbound", "8001"),
        ("ondemand-8002-8001-20240115-103000-1705285800.1.wav", "ondemand", "internal", "8001"),
    ],
)
def test_queue_ring_group_and_on_demand_names(name, kind, direction, extension):
    recording = parse_name(name, SHANGHAI)
    assert (recording.kind, recording.direction, recording.extension) == (
        kind,
        direction,
        extension,
    )


def test_parse_name_raises_for_one_bad_name():
    with pytest.raises(RecordingNameError, match="not a FreePBX recording name"):
        parse_name("in-13812345678.wav", SHANGHAI)


# ---------------------------------------------------------------- card index


def card_config(**extra):
    settings = {
        "format": "card_index",
        "tz": "Asia/Shanghai",
        "dial_prefixes": ("9",),
        "area_code": "021",
        "channel_extensions": {"1": "8001", "2": "8002"},
    }
    return SourceConfig(**(settings | extra))


def test_card_index():
    items = read("card_index.csv", card_config())
    inbound, outbound, derived = items[:3]
    assert (inbound.line, inbound.channel, inbound.direction, inbound.extension) == (
        2,
        "1",
        "inbound",
        "8001",
    )
    assert inbound.external_number == "+8613812345678"
    assert inbound.started_at == utc(2024, 1, 15, 2, 30)
    assert (inbound.duration, inbound.file) == (
        125,
        "2024/01/15/20240115103000_13812345678_62345600.wav",
    )
    assert (outbound.direction, outbound.extension, outbound.external_number) == (
        "outbound",
        "8002",
        "+862162345678",
    )
    assert (outbound.duration, outbound.started_at) == (70, utc(2024, 1, 15, 2, 35))
    # No direction written: the extension-shaped caller called out.
    assert (derived.direction, derived.extension, derived.external_number) == (
        "outbound",
        "801",
        "+8613912345678",
    )
    assert derived.started_at == utc(2024, 1, 15, 2, 40)


def test_card_index_bad_rows():
    errors = read("card_index.csv", card_config())[3:]
    assert [(error.line, error.message) for error in errors] == [
        (5, "start is not a date and time: 'yesterday'"),
        (6, "6 columns, expected 7"),
        (7, "unknown direction '外星'"),
    ]


def test_card_index_header_without_a_file_column():
    data = b"channel,caller,start\n1,13812345678,2024-01-15 10:30:00\n"
    items = list(parse(io.BytesIO(data), card_config()))
    assert len(items) == 1
    assert items[0].line == 1
    assert "header lacks file" in items[0].message


def test_card_index_with_a_column_map_and_donjin_caller_prefix():
    data = "01151030013812345678,3,20240115103000,2024/01/15/a.wav\n".encode("gbk")
    config = card_config(
        columns=("caller", "channel", "start", "file"),
        caller_prefix_chars=8,
        channel_extensions={"3": "8003"},
    )
    (record,) = parse(io.BytesIO(data), config)
    assert (record.caller, record.external_number) == ("013812345678", "+8613812345678")
    assert (record.direction, record.extension, record.duration) == ("inbound", "8003", None)
