"""The import writes each call once, already matched: the same agent, lead
and first-time-caller flag as match_calls() in SQL; its rows survive COPY
whatever their characters; late legs in a later batch of the same import are
merged and counted once; the reader thread's failures fail the import and
it speaks the import's language."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Count, Q
from django.utils import translation

from leads.models import CustomerPhone, Lead, Status
from telephony import cdr, parsers, services
from telephony.models import Call, CallImport, ExtensionAssignment, ImportStatus


def cdr_line(src, dst, channel, dstchannel, start, answer, end, disposition, uid, linked=None,
             clid=None, sequence="1"):  # fmt: skip
    """One Master.csv line (21 columns): strings quoted, numbers bare."""
    duration = int((end - start).total_seconds())
    billsec = int((end - answer).total_seconds()) if answer else 0

    def stamp(moment):
        return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""

    fields = [
        "", src, dst, "from-internal", clid if clid is not None else f'"{src}" <{src}>',
        channel, dstchannel, "Dial", "", stamp(start), stamp(answer), stamp(end),
        duration, billsec, disposition, "DOCUMENTATION", uid, "", "", linked or uid, sequence,
    ]  # fmt: skip
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n").writerow(fields)
    return out.getvalue()


def at(day, hour, minute=0, second=0):
    # Written in UTC: the import below reads the file as UTC.
    return datetime(2024, 3, day, hour, minute, second, tzinfo=UTC)


def run(actor, store, data: str, **kwargs):
    return services.import_cdr(
        actor=actor,
        store=store,
        fileobj=io.BytesIO(data.encode()),
        file_name="calls.csv",
        **kwargs,
    )


@pytest.fixture
def utc(settings):
    settings.TIME_ZONE = "UTC"


def inbound(number, ext, start, *, answered=True, uid, linked=None):
    end = start + timedelta(minutes=2)
    return cdr_line(
        number, "4008001234", "PJSIP/trunk-0001", f"PJSIP/{ext}-0002", start,
        start + timedelta(seconds=5) if answered else None, end,
        "ANSWERED" if answered else "NO ANSWER", uid, linked,
    )  # fmt: skip


def outbound(ext, number, start, *, uid):
    end = start + timedelta(minutes=1)
    return cdr_line(
        ext, "9" + number, f"PJSIP/{ext}-0003", "PJSIP/trunk-0004", start,
        start + timedelta(seconds=8), end, "ANSWERED", uid,
    )  # fmt: skip


def snapshot():
    return {
        call.key: (call.agent_id, call.lead_id, call.new_caller)
        for call in Call.objects.order_by("key")
    }


def sql_counts(report):
    return Call.objects.filter(call_import=report).aggregate(
        matched=Count("pk", filter=Q(lead__isnull=False)),
        unmatched=Count("pk", filter=Q(lead__isnull=True) & ~Q(external_number="")),
        unknown=Count("pk", filter=Q(agent__isnull=True) & ~Q(extension="")),
    )


@pytest.fixture(params=["leads read first", "leads read per batch"])
def read_first(request, monkeypatch):
    """Both ways the import reads leads: all of them before a big file (the
    reader thread matches), or the numbers of each batch (the import's
    thread matches)."""
    if request.param == "leads read per batch":
        monkeypatch.setattr(cdr.Matcher, "read_all_if", lambda self, numbers: None)
    return request.param


def test_calls_are_matched_as_match_calls_would(
    utc, sue, store_a, alice, bob, mike, make_lead, read_first
):
    # 8003 was Bob's until 3 March noon, Mike's after; 8009 is nobody's.
    ExtensionAssignment.objects.filter(extension="8003").delete()
    noon = datetime(2024, 3, 3, 12, tzinfo=UTC)
    ExtensionAssignment.objects.create(store=store_a, extension="8003", staff=bob, valid_to=noon)
    ExtensionAssignment.objects.create(store=store_a, extension="8003", staff=mike, valid_from=noon)
    # An old closed lead and a newer open one for one number: the latest
    # received by the end of the call wins.
    old = make_lead(mike, phone="13811110000", received_at=datetime(2024, 2, 1, tzinfo=UTC))
    Lead.objects.filter(pk=old.pk).update(status=Status.DEFEATED)
    make_lead(mike, phone="13811110000", received_at=datetime(2024, 3, 3, 9, tzinfo=UTC))
    # A lead whose customer has a second number.
    second = make_lead(mike, phone="13822220000", received_at=datetime(2024, 2, 1, tzinfo=UTC))
    CustomerPhone.objects.create(customer=second.customer, store=store_a, number="+8613922220000")
    # A lead that arrives after the first call from its number.
    make_lead(mike, phone="13833330000", received_at=datetime(2024, 3, 3, 10, tzinfo=UTC))

    lines = [
        inbound("13811110000", "8001", at(2, 10), uid="1.1"),  # the old lead
        inbound("13811110000", "8001", at(3, 10), uid="1.2"),  # the newer one
        inbound("13922220000", "8002", at(2, 11), uid="1.3"),  # the other number
        inbound("13833330000", "8003", at(3, 9), answered=False, uid="1.4"),  # before its lead
        inbound("13833330000", "8003", at(3, 13), uid="1.5"),  # after: Mike's 8003
        inbound("13844440000", "8009", at(3, 14), uid="1.6"),  # first-time caller, no agent
        outbound("8003", "13855550000", at(3, 11), uid="1.7"),  # Bob's 8003, no lead
        outbound("8001", "13833330000", at(4, 9), uid="1.8"),
        cdr_line(
            "8001",
            "8002",
            "PJSIP/8001-1",
            "PJSIP/8002-2",
            at(4, 10),
            at(4, 10, 0, 3),
            at(4, 10, 1),
            "ANSWERED",
            "1.9",
        ),
    ]
    report = run(sue, store_a, "".join(lines))
    assert report.status == ImportStatus.DONE
    assert report.calls == len(lines)
    imported = snapshot()
    assert imported["1.1"] == (alice.pk, old.pk, False)
    assert imported["1.3"] == (bob.pk, second.pk, False)
    assert imported["1.4"][1:] == (None, True)
    assert imported["1.5"][0] == mike.pk
    assert imported["1.6"] == (None, None, True)
    assert imported["1.7"] == (bob.pk, None, False)
    assert imported["1.9"] == (alice.pk, None, False)
    counts = sql_counts(report)
    assert (report.matched_leads, report.unmatched, report.unknown_extensions) == (
        counts["matched"],
        counts["unmatched"],
        counts["unknown"],
    )

    Call.objects.update(agent=None, lead=None, new_caller=False)
    cdr.match_calls(Call.objects.all())
    assert snapshot() == imported


def test_odd_characters_survive_the_copy(utc, sue, store_a, alice):
    clid = '"王 \\ "Boss"\tTab" <13812345678>'
    line = cdr_line(
        "13812345678", "4008001234", "PJSIP/trunk-0001", "PJSIP/8001-0002", at(2, 10),
        at(2, 10, 0, 5), at(2, 10, 2), "ANSWERED", "back\\slash.1", clid=clid,
    )  # fmt: skip
    report = run(sue, store_a, line)
    assert report.errors == []
    call = Call.objects.get()
    assert call.uniqueid == "back\\slash.1"
    assert call.key == "back\\slash.1"
    (leg,) = call.legs
    assert leg["clid"] == clid
    assert leg["started_at"] == "2024-03-02T10:00:00+00:00"
    assert leg["answered_at"] == "2024-03-02T10:00:05+00:00"
    assert call.agent == alice
    assert run(sue, store_a, line).imported == 0


def test_leg_text_is_the_legs_json():
    config = parsers.SourceConfig(tz="UTC", area_code="021")
    data = "".join(
        [
            inbound("13812345678", "8001", at(2, 10), uid="1.1"),
            inbound("13812345678", "8001", at(2, 11), answered=False, uid="1.2"),
            cdr_line(
                "anonymous",
                "4008001234",
                "PJSIP/trunk-1",
                "",
                at(2, 12),
                None,
                at(2, 12),
                "FAILED",
                "1.3",
                clid='"\\u0000 \x01 é 王" <>',
            ),
        ]
    )
    legs = list(parsers.parse(io.BytesIO(data.encode()), config))
    assert len(legs) == 3
    for leg in legs:
        times = [moment.isoformat() if moment else None for moment in
                 (leg.started_at, leg.answered_at, leg.ended_at)]  # fmt: skip
        text = cdr.leg_text(leg, *times)
        assert text == cdr.legs_text(cdr.leg_json(leg))
        assert cdr.leg_from_json(cdr.leg_json(leg)).key == leg.key


class _OneCallABatch(cdr.CdrImport):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.batch_size = 1


def test_a_late_leg_in_a_later_batch_is_merged_and_counted_once(
    utc, sue, store_a, alice, bob, make_lead, monkeypatch, mike
):
    make_lead(mike, phone="13812345678", received_at=datetime(2024, 1, 1, tzinfo=UTC))
    monkeypatch.setattr(cdr, "CdrImport", _OneCallABatch)
    first = inbound("13812345678", "8001", at(2, 10), uid="9.1")
    # The file moves on seven hours (the call is written), then the call's
    # second leg (Bob took it over) comes late.
    later = inbound("13900000000", "8002", at(2, 17), uid="9.5")
    late = cdr_line(
        "13812345678", "4008001234", "PJSIP/trunk-0001", "PJSIP/8002-0009", at(2, 10, 2),
        at(2, 10, 2), at(2, 10, 5), "ANSWERED", "9.2", linked="9.1", sequence="2",
    )  # fmt: skip
    report = run(sue, store_a, first + later + late)
    assert report.imported == 3
    assert report.calls == 2
    call = Call.objects.get(key="9.1")
    assert len(call.legs) == 2
    assert call.agent == alice
    assert call.billsec == 115 + 180
    counts = sql_counts(report)
    assert (report.matched_leads, report.unmatched, report.unknown_extensions) == (
        counts["matched"],
        counts["unmatched"],
        counts["unknown"],
    )
    assert (report.matched_leads, report.unmatched) == (1, 1)


@pytest.mark.parametrize("files", ["one file", "two files"])
def test_a_leg_hours_from_its_call_is_still_merged(
    utc, sue, store_a, alice, bob, monkeypatch, files
):
    # A leg twelve hours after its call, with the file moved on in between
    # (the call was written already, by this import or an earlier one), is
    # merged into it and counted once.
    monkeypatch.setattr(cdr, "CdrImport", _OneCallABatch)
    first = inbound("13812345678", "8001", at(2, 10), uid="7.1")
    between = inbound("13700000000", "8001", at(2, 17), uid="7.3")
    far = cdr_line(
        "13812345678", "4008001234", "PJSIP/trunk-0001", "PJSIP/8002-0009", at(2, 22),
        at(2, 22), at(2, 22, 3), "ANSWERED", "7.2", linked="7.1", sequence="2",
    )  # fmt: skip
    other = inbound("13900000000", "8002", at(2, 23), uid="7.5")
    if files == "one file":
        reports = [run(sue, store_a, first + between + far + other)]
    else:
        reports = [run(sue, store_a, first + between), run(sue, store_a, far + other)]
    assert sum(report.imported for report in reports) == 4
    assert sum(report.calls for report in reports) == 3
    call = Call.objects.get(key="7.1")
    assert len(call.legs) == 2
    assert call.billsec == 115 + 180
    assert Call.objects.count() == 3
    # The merged call is the last import's now; its counts say so.
    last = reports[-1]
    counts = sql_counts(last)
    assert (last.matched_leads, last.unmatched, last.unknown_extensions) == (
        counts["matched"],
        counts["unmatched"],
        counts["unknown"],
    )


def test_a_failure_in_the_reader_fails_the_import(utc, sue, store_a, monkeypatch):
    good = inbound("13812345678", "8001", at(2, 10), uid="1").encode()
    parse = parsers.parse

    def broken(fileobj, config):
        yield from parse(io.BytesIO(good), config)
        raise RuntimeError("disk gone")

    monkeypatch.setattr(parsers, "parse", broken)
    with pytest.raises(RuntimeError, match="disk gone"):
        run(sue, store_a, "ignored")
    report = CallImport.objects.get()
    assert report.status == ImportStatus.FAILED
    assert Call.objects.count() == 0


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_reader_speaks_the_import_language(utc, sue, store_a, monkeypatch, language):
    def parse(fileobj, config):
        yield parsers.ParseError(1, translation.get_language())

    monkeypatch.setattr(parsers, "parse", parse)
    with translation.override(language):
        report = run(sue, store_a, "x")
    assert report.errors == [{"line": 1, "message": language}]


def test_a_leg_keeps_its_answer_time_when_the_call_was_not_answered(utc, sue, store_a, alice):
    # A CDR can carry an answer time with a BUSY disposition: the call is not
    # answered, its leg keeps what the PBX wrote.
    line = cdr_line(
        "13812345678", "4008001234", "PJSIP/trunk-0001", "PJSIP/8001-0002", at(2, 10),
        at(2, 10, 0, 5), at(2, 10, 0, 9), "BUSY", "7.1",
    )  # fmt: skip
    run(sue, store_a, line)
    call = Call.objects.get()
    assert (call.answered_at, call.ring_seconds, call.billsec) == (None, None, 0)
    assert call.legs[0]["answered_at"] == "2024-03-02T10:00:05+00:00"
    assert call.legs[0]["billsec"] == 4
