"""Call-log lines the database cannot store are bad lines, reported with
their number, and the good lines around them are imported: a NUL byte
(PostgreSQL refuses it in text and JSON), a call ending before it starts,
seconds beyond an integer column, times outside the years DCC keeps."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from telephony.models import Call
from telephony.parsers import ParseError, SourceConfig, parse
from tests.telephony.builders import cdr_line

IMPORTS = "/api/v1/telephony/cdr-imports/"
SHANGHAI = SourceConfig(tz="Asia/Shanghai")
GOOD = cdr_line(
    "8001",
    "13812345678",
    "2024-03-01 10:00:00",
    "2024-03-01 10:00:05",
    "2024-03-01 10:01:05",
    "ANSWERED",
    "1709258400.1",
)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def line(start="2024-03-01 11:00:00", answer="2024-03-01 11:00:05", end="2024-03-01 11:01:05"):
    return cdr_line("8001", "13812345679", start, answer, end, "ANSWERED", "1709262000.2")


def read(*lines: str | bytes):
    data = b"".join(item if isinstance(item, bytes) else item.encode() for item in lines)
    return list(parse(io.BytesIO(data), SHANGHAI))


def only_error(items) -> ParseError:
    errors = [item for item in items if isinstance(item, ParseError)]
    assert len(errors) == 1, items
    assert [item.line for item in items if not isinstance(item, ParseError)] == [1, 3]
    return errors[0]


def test_a_nul_byte_is_a_bad_line():
    error = only_error(read(GOOD, line().replace("8001", "80\x0001", 1), GOOD))
    assert error.line == 2
    assert "NUL byte" in error.message


def test_a_nul_byte_in_a_gbk_line_is_a_bad_line_too():
    bad = line().replace("8001", "王\x00", 1).encode("gb18030")
    error = only_error(read(GOOD, bad, GOOD))
    assert error.line == 2
    assert "NUL byte" in error.message


def test_a_call_ending_before_it_starts_is_a_bad_line():
    bad = line(start="2024-03-01 11:00:00", answer="", end="2024-03-01 10:59:00")
    error = only_error(read(GOOD, bad, GOOD))
    assert error.message == "end is before start: 2024-03-01 10:59:00 < 2024-03-01 11:00:00"


def test_talk_time_beyond_an_integer_column_is_a_bad_line():
    bad = line().replace('"60","ANSWERED"', f'"{2**31}","ANSWERED"')
    assert bad != line()
    error = only_error(read(GOOD, bad, GOOD))
    assert error.message == f"billsec is more than a week: {2**31} seconds"


def test_a_call_lasting_years_is_a_bad_line():
    error = only_error(read(GOOD, line(answer="", end="2099-03-01 11:01:05"), GOOD))
    assert "more than a week" in error.message


@pytest.mark.parametrize(
    "start", ["0001-01-01 00:00:00", "1900-01-01 00:00:00", "9999-12-31 23:59:59"]
)
def test_times_outside_the_years_kept_are_a_bad_line(start):
    error = only_error(read(GOOD, line(start=start, answer="", end=start), GOOD))
    assert error.message.startswith(f"start is out of range: '{start}'")


@pytest.mark.django_db
def test_the_api_reports_the_bad_lines_and_imports_the_good(api, mike, alice):
    data = (
        GOOD
        + line().replace("8001", "80\x0001", 1)
        + line(start="0001-01-01 00:00:00", answer="", end="0001-01-01 00:01:00")
        + line(answer="", end="2024-03-01 10:00:00")
        + line().replace('"60","ANSWERED"', f'"{2**31}","ANSWERED"')
    ).encode()
    upload = SimpleUploadedFile("Master.csv", data, content_type="text/csv")
    response = api(mike).post(IMPORTS, {"file": upload}, format="multipart")
    assert response.status_code == 200, response.content
    report = response.json()
    assert [error["line"] for error in report["errors"]] == [2, 3, 4, 5]
    assert report["imported"] == 1
    assert Call.objects.get().uniqueid == "1709258400.1"


def test_a_card_recording_longer_than_a_week_is_a_bad_line():
    config = SourceConfig(format="card_index", tz="Asia/Shanghai")
    data = (
        "channel,direction,caller,callee,start,duration,file\n"
        f"1,呼入,13812345678,62345600,2024-01-15 10:30:00,{2**31},a.wav\n"
    )
    [error] = parse(io.BytesIO(data.encode()), config)
    assert error.line == 2
    assert error.message == f"duration is more than a week: {2**31} seconds"
