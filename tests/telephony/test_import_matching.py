"""The matching rule's two forms (telephony.cdr.matching) agree: Matcher in
Python and match_calls() in SQL give stored calls the same agent, lead and
first-time-caller flag, at the rule's edges. The import writes each call
once, already matched as match_calls() would; its rows survive COPY
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


def test_a_lead_received_at_the_calls_end_is_the_calls(
    utc, sue, store_a, alice, mike, make_lead, read_first
):
    """A lead received at the very moment a call ended (entered during the
    call, saved as it ends) is that call's lead; one received a second later
    is not (the caller was new). The import (``cdr.Matcher.lead``:
    received_at <= ended_at) and SQL (``cdr.lead_for_number``,
    ``lead_for_other_number``: received_at__lte=ended_at) draw the line at
    the same place."""
    start = at(5, 10)
    end = start + timedelta(minutes=2)  # inbound() calls last two minutes
    at_end = make_lead(mike, phone="13866660000", received_at=end)
    make_lead(mike, phone="13877770000", received_at=end + timedelta(seconds=1))
    other = make_lead(mike, phone="13888880000", received_at=end)
    CustomerPhone.objects.create(customer=other.customer, store=store_a, number="+8613899990000")
    lines = [
        inbound("13866660000", "8001", start, uid="2.1"),
        inbound("13877770000", "8001", start, uid="2.2"),
        inbound("13899990000", "8001", start, uid="2.3"),
    ]
    report = run(sue, store_a, "".join(lines))
    assert report.status == ImportStatus.DONE
    imported = snapshot()
    assert Call.objects.get(key="2.1").ended_at == end
    assert imported["2.1"] == (alice.pk, at_end.pk, False)
    assert imported["2.2"] == (alice.pk, None, True)
    assert imported["2.3"] == (alice.pk, other.pk, False)

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
        run(sue, store_a, good.decode())
    report = CallImport.objects.get()
    assert report.status == ImportStatus.FAILED
    assert Call.objects.count() == 0


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_reader_speaks_the_import_language(utc, sue, store_a, monkeypatch, language):
    def parse(fileobj, config):
        yield parsers.ParseError(1, translation.get_language())

    monkeypatch.setattr(parsers, "parse", parse)
    with translation.override(language):
        report = run(sue, store_a, "x", format="asterisk_csv")
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


# ---------------------------------------------------------------- one rule, two forms


@pytest.fixture(params=["numbers looked up", "whole store read", "huge store"])
def matcher_mode(request, monkeypatch):
    """The ways Matcher reads leads: the numbers asked for (in chunks), all
    of the store's at once, or a store too big for that (read by number,
    forgetting as it goes)."""
    if request.param == "huge store":
        monkeypatch.setattr(cdr.Matcher, "WHOLE_STORE", 1)
    return request.param


def test_the_sql_and_the_python_form_of_the_rule_agree(
    sue, store_a, store_b, alice, bob, mike, mary, dave, make_lead, matcher_mode
):
    """match_calls (SQL) and Matcher (Python) over the same stored calls:
    the same agent, lead and first-time-caller flag, at the rule's edges."""
    noon = at(3, 12)
    # 8003: Bob's until noon (excluded), Mike's from noon (included).
    ExtensionAssignment.objects.create(store=store_a, extension="8003", staff=bob, valid_to=noon)
    ExtensionAssignment.objects.create(store=store_a, extension="8003", staff=mike, valid_from=noon)
    # 8005: Alice's from 10:00 to 11:00 on the 3rd only.
    ExtensionAssignment.objects.create(
        store=store_a, extension="8005", staff=alice, valid_from=at(3, 10), valid_to=at(3, 11)
    )
    # 8006: only another store's.
    ExtensionAssignment.objects.create(store=store_b, extension="8006", staff=dave)

    def lead(actor, phone, received_at, **kwargs):
        made = make_lead(actor, phone=phone, received_at=received_at, **kwargs)
        Lead.objects.filter(pk=made.pk).update(status=Status.DEFEATED)  # room for the next one
        return made

    # Several leads for one number: the latest received by the call's end.
    older = lead(mike, "13811110000", at(1, 9))
    newer = lead(mike, "13811110000", at(3, 9))
    # Received exactly when a call ends.
    on_the_end = lead(mike, "13822220000", at(3, 10, 2))
    # Two leads received at the same moment: the higher id.
    tie = [lead(mike, "13833330000", at(2, 9)) for _ in range(2)]
    # Another store's lead only.
    lead(mary, "13844440000", at(1, 9), store=store_b)
    # By the customer's other number.
    by_other = lead(mike, "13855550000", at(1, 9))
    CustomerPhone.objects.create(customer=by_other.customer, store=store_a, number="+8613866660000")

    inbound, outbound = "inbound", "outbound"
    cases = {
        # key: (extension, number, start, end, direction, (agent, lead, new caller))
        "noon-1s": ("8003", "", at(3, 11, 59, 59), at(3, 12, 5), outbound, (bob, None, False)),
        "noon": ("8003", "", noon, at(3, 12, 5), outbound, (mike, None, False)),
        "8005-before": ("8005", "", at(3, 9, 59, 59), at(3, 10, 1), outbound,
                        (None, None, False)),
        "8005-from": ("8005", "", at(3, 10), at(3, 10, 1), outbound, (alice, None, False)),
        "8005-to": ("8005", "", at(3, 11), at(3, 11, 1), outbound, (None, None, False)),
        "other-store-ext": ("8006", "", at(3, 10), at(3, 10, 1), outbound, (None, None, False)),
        "nobody": ("8009", "", at(3, 10), at(3, 10, 1), "internal", (None, None, False)),
        "older": ("8001", "+8613811110000", at(2, 10), at(2, 10, 2), inbound,
                  (alice, older, False)),
        "newer": ("8001", "+8613811110000", at(3, 10), at(3, 10, 2), inbound,
                  (alice, newer, False)),
        "at-end": ("8002", "+8613822220000", at(3, 10), at(3, 10, 2), inbound,
                   (bob, on_the_end, False)),
        "before-end": ("8002", "+8613822220000", at(3, 10), at(3, 10, 1, 59), inbound,
                       (bob, None, True)),
        "before-out": ("8002", "+8613822220000", at(3, 9), at(3, 9, 1), outbound,
                       (bob, None, False)),
        "tie": ("", "+8613833330000", at(3, 10), at(3, 10, 2), inbound, (None, tie[1], False)),
        "other-store-lead": ("8001", "+8613844440000", at(3, 10), at(3, 10, 2), inbound,
                             (alice, None, True)),
        "other-number": ("8001", "+8613866660000", at(3, 10), at(3, 10, 2), inbound,
                         (alice, by_other, False)),
    }  # fmt: skip
    for key, (extension, number, start, end, direction, _expected) in cases.items():
        Call.objects.create(
            store=store_a, key=key, started_at=start, ended_at=end, disposition="ANSWERED",
            direction=direction, extension=extension, external_number=number,
        )  # fmt: skip
    # A call of the other store with the same numbers and extensions: its
    # own store's rule, left alone by matching store A's calls.
    Call.objects.create(
        store=store_b, key="b", started_at=at(3, 10), ended_at=at(3, 10, 2),
        disposition="ANSWERED", direction="inbound", extension="8006",
        external_number="+8613844440000",
    )  # fmt: skip

    cdr.match_calls(Call.objects.filter(store=store_a))
    in_sql = snapshot()
    assert in_sql.pop("b") == (None, None, False)

    matcher = cdr.Matcher(store_a.pk, chunk=2)
    calls = list(Call.objects.filter(store=store_a).order_by("key"))
    if matcher_mode == "whole store read":
        matcher.read_all_if(10**9)
        assert matcher.complete
    in_python = {}
    for call in calls:
        matcher.prepare([call.external_number])
        _extension, _number, agent, lead_id, new_caller = matcher.match(call)
        in_python[call.key] = (agent, lead_id, new_caller)

    assert in_python == in_sql
    expected = {
        key: tuple(getattr(item, "pk", item) for item in case[-1]) for key, case in cases.items()
    }
    assert in_sql == expected
