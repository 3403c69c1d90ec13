"""Who answered, ring, wait, talk and the extensions that rang, on
hand-written Master.csv files of the patterns real 4S-store PBXs produce
(tests/telephony/samples/patterns/, written as Asterisk's cdr_csv writes
them: no header; 21 columns with loguniqueid, loguserfield and
newcdrcolumns; 18 without the last three). No database for the engine; one
import through the real loader checks the stored columns.
"""

from pathlib import Path

import pytest

from telephony.parsers import SourceConfig, group_calls, only_records, parse

PATTERNS = Path(__file__).parent / "samples" / "patterns"
UTC_PBX = SourceConfig(tz="UTC", dial_prefixes=("9",))


def calls_of(name: str):
    errors = []
    with (PATTERNS / name).open("rb") as fileobj:
        calls = list(group_calls(only_records(parse(fileobj, UTC_PBX), errors)))
    assert errors == []
    return calls


# file: [(answered_by, ring, wait, billsec, extension, rang, queue), one per call]
EXPECTED = {
    # The greeting answers at once; the agent picks up 40 s after the dial.
    "ivr_then_agent.csv": [("agent", 40, 50, 120, "8001", ("8001",), "")],
    # The caller heard the greeting and hung up: nobody spoke to them.
    "ivr_hangup.csv": [("system", None, 12, 0, None, (), "")],
    # 8002 rang 30 s; the voicemail's 45 s are no one's talk time.
    "voicemail_after_no_answer.csv": [("system", None, 75, 0, "8002", ("8002",), "")],
    # The queue answers (hold), rings 8001 and 8002 from 2 s; 8002 answers at 20 s.
    "queue_ringall_answered.csv": [("agent", 18, 20, 180, "8002", ("8001", "8002"), "400")],
    # Nobody picked up: the queue and the wait, not an extension; both rang.
    "queue_ringall_abandoned.csv": [("system", None, 45, 0, None, ("8001", "8002"), "400")],
    # Ring group 600 rings both through Local channels; 8002 answers after 8 s.
    "ring_group.csv": [("agent", 8, 8, 90, "8002", ("8001", "8002"), "")],
    # 8003 rings 20 s, then follow-me rings the agent's mobile, answered at 32 s.
    "followme_mobile.csv": [("agent", 32, 32, 300, "8003", ("8003",), "")],
    # 8001 talks 60 s, consults 8002 (not talk with the customer), 8002 talks 90 s.
    "attended_transfer.csv": [("agent", 5, 5, 150, "8001", ("8001", "8002"), "")],
    "blind_transfer.csv": [("agent", 6, 6, 150, "8001", ("8001", "8002"), "")],
    # AMI Originate: the agent's phone rings first (Local ;2), then the
    # customer, who answers 11 s later: talk is the customer leg's 195 s.
    "click_to_call.csv": [("agent", 11, 15, 195, "8004", ("8004",), "")],
    # One CDR per call (no linkedid): the ring includes the greeting.
    "master_18_columns.csv": [
        ("agent", 45, 45, 120, "8001", ("8001",), ""),
        ("system", None, 40, 0, None, (), ""),
        ("none", None, 20, 0, "8003", ("8003",), ""),
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_pattern_reads_as_it_happened(name):
    got = [
        (
            call.answered_by,
            call.ring_seconds,
            call.wait_seconds,
            call.billsec,
            call.extension,
            call.rang_extensions,
            call.queue,
        )
        for call in calls_of(name)
    ]
    assert got == EXPECTED[name]


def test_every_pattern_file_is_tested():
    assert {path.name for path in PATTERNS.glob("*.csv")} == set(EXPECTED)


def test_direction_and_customer_of_the_patterns():
    (click,) = calls_of("click_to_call.csv")
    assert (click.direction, click.external_number) == ("outbound", "+8613712345678")
    (queue,) = calls_of("queue_ringall_abandoned.csv")
    assert (queue.direction, queue.external_number) == ("inbound", "+8613912345678")
    (mobile,) = calls_of("followme_mobile.csv")
    assert mobile.external_number == "+8613812345678"


def test_the_18_column_file_has_three_calls_by_uniqueid():
    calls = calls_of("master_18_columns.csv")
    assert [call.key for call in calls] == ["1709308800.80", "1709309400.82", "1709310000.83"]
