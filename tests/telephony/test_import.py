"""Importing call logs: idempotent, bad lines reported, legs merged, calls
matched to leads and to whoever had the extension at the time."""

import io
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command

from followups.models import Channel, Result
from followups.services import followup_log
from telephony import services
from telephony.cdr import CdrImport
from telephony.models import Call, CallImport, ExtensionAssignment, ImportStatus

SAMPLES = Path(__file__).parent / "samples"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def sample(name):
    return io.BytesIO((SAMPLES / name).read_bytes())


def run(actor, store, name=None, data=None, **kwargs):
    fileobj = io.BytesIO(data) if data is not None else sample(name)
    return services.import_cdr(
        actor=actor, store=store, fileobj=fileobj, file_name=name or "upload.csv", **kwargs
    )


def cdr(src, dst, channel, dstchannel, start, answer, end, billsec, disposition, uid, linked=None):
    duration = int((_t(end) - _t(start)).total_seconds())
    fields = [
        "", src, dst, "from-internal", f'"{src}" <{src}>', channel, dstchannel, "Dial", "",
        start, answer, end, str(duration), str(billsec), disposition, "DOCUMENTATION",
        uid, "", "", linked or uid, "1",
    ]  # fmt: skip
    quoted = []
    for index, value in enumerate(fields):
        if index in (12, 13) or (index == 10 and not value):
            quoted.append(value)
        else:
            quoted.append('"' + value.replace('"', '""') + '"')
    return ",".join(quoted) + "\n"


def _t(text):
    return datetime.fromisoformat(text)


@pytest.fixture
def lead_138(make_lead, alice, mike):
    return make_lead(
        mike,
        phone="13812345678",
        owner=alice,
        received_at=datetime(2024, 1, 14, 9, 0, tzinfo=SHANGHAI),
    )


def test_basic_file_imports_matches_and_reimports_nothing(sue, store_a, alice, bob, lead_138):
    report = run(sue, store_a, "master_basic.csv")
    assert report.status == ImportStatus.DONE
    assert report.errors == []
    assert report.imported == 9
    assert report.duplicates == 0
    assert report.calls == 9
    inbound = Call.objects.get(uniqueid="1705285800.1")
    assert inbound.direction == "inbound"
    assert inbound.agent == alice
    assert inbound.lead == lead_138
    assert inbound.ring_seconds == 5
    assert inbound.billsec == 120
    # 10:30 in the PBX's zone (Asia/Shanghai) is 02:30 UTC.
    assert inbound.started_at == datetime(2024, 1, 15, 10, 30, tzinfo=SHANGHAI)
    outbound = Call.objects.get(uniqueid="1705286100.3")
    assert outbound.direction == "outbound"
    assert outbound.external_number == "+8613912345678"
    assert outbound.agent == alice
    assert outbound.lead is None
    internal = Call.objects.get(uniqueid="1705286700.7")
    assert internal.direction == "internal"
    assert internal.external_number == ""
    missed = Call.objects.get(uniqueid="1705287000.9")
    assert missed.disposition == "NO ANSWER"
    assert missed.agent == bob
    assert missed.new_caller
    assert report.matched_leads == 1
    # Every other call but the internal one has a number no lead has.
    assert report.unmatched == 7

    again = run(sue, store_a, "master_basic.csv")
    assert again.imported == 0
    assert again.duplicates == 9
    assert again.calls == 0
    assert Call.objects.count() == 9


def test_transfer_legs_become_one_call_with_its_legs(sue, store_a, alice, bob):
    report = run(sue, store_a, "master_transfer.csv")
    # A transfer (three legs) and a call ringing two extensions at once (two
    # legs); one line repeated.
    assert report.imported == 5
    assert report.duplicates == 1
    assert report.calls == 2
    call = Call.objects.get(key="1705298400.20")
    assert len(call.legs) == 3
    assert call.agent == alice  # the first agent who answered
    assert call.billsec == 150  # 60 s with alice, then 90 s with bob
    assert {leg["extension"] for leg in call.legs} >= {"8001", "8002"}


def test_late_legs_in_a_second_file_are_merged_into_the_call(sue, store_a, alice, bob):
    lines = (SAMPLES / "master_transfer.csv").read_bytes().splitlines(keepends=True)
    first = run(sue, store_a, data=b"".join(lines[:2]))
    assert first.imported == 2
    second = run(sue, store_a, data=b"".join(lines))
    assert second.imported == 3
    assert second.duplicates == 3
    call = Call.objects.get(key="1705298400.20")
    assert len(call.legs) == 3
    assert call.billsec == 150
    assert Call.objects.count() == 2


def test_legs_stored_as_objects_before_read_and_merge_as_compact_ones(sue, store_a, alice, bob):
    # Legs are stored compact (an array of values each); calls stored before
    # keep objects: both read as objects, and a late leg merges into either.
    lines = (SAMPLES / "master_transfer.csv").read_bytes().splitlines(keepends=True)
    run(sue, store_a, data=b"".join(lines[:2]))
    call = Call.objects.get(key="1705298400.20")
    compact = call.legs
    assert all(isinstance(leg, dict) and leg["key"] for leg in compact)
    Call.objects.filter(pk=call.pk).update(legs=compact)  # as objects, as stored before
    call.refresh_from_db()
    assert call.legs == compact
    second = run(sue, store_a, data=b"".join(lines))
    assert second.imported == 3
    call.refresh_from_db()
    assert len(call.legs) == 3
    assert call.billsec == 150
    assert call.legs[0] == compact[0]


def test_bad_lines_are_reported_with_numbers_and_good_lines_kept(sue, store_a, alice, bob):
    report = run(sue, store_a, "master_malformed.csv")
    assert report.status == ImportStatus.DONE
    assert report.error_count == len(report.errors) >= 2
    bad_lines = {error["line"] for error in report.errors}
    assert 2 in bad_lines
    assert 5 in bad_lines
    assert Call.objects.filter(uniqueid__in=["1705286100.3", "1705287300.11"]).count() == 2
    busy = Call.objects.get(uniqueid="1705287300.11")
    assert busy.disposition == "BUSY"
    assert busy.agent == bob


def test_gbk_file_is_read(sue, store_a):
    report = run(sue, store_a, "master_gbk.csv")
    assert report.error_count == 0
    # No uniqueid: the content key; the repeated line is a duplicate.
    assert report.imported == 2
    assert report.duplicates == 1
    assert Call.objects.filter(external_number="+862162345678").exists()


def test_calls_follow_the_extension_to_whoever_had_it_then(sue, store_a, alice, bob, mike):
    from dcc import services as dcc_services

    # alice had 8001 since always; on 2024-02-01 it moves to bob.
    dcc_services.staff_update(actor=mike, staff=alice, extension="8009")
    dcc_services.staff_update(actor=mike, staff=bob, extension="8001")
    moved_at = datetime(2024, 2, 1, tzinfo=SHANGHAI)
    ExtensionAssignment.objects.filter(extension="8001", staff=alice).update(valid_to=moved_at)
    ExtensionAssignment.objects.filter(extension="8001", staff=bob).update(valid_from=moved_at)
    data = cdr(
        "8001", "913900000001", "PJSIP/8001-01", "PJSIP/trunk-02",
        "2024-01-31 23:59:59", "2024-01-31 23:59:59", "2024-02-01 00:01:00", 61, "ANSWERED", "1.1",
    ) + cdr(
        "8001", "913900000002", "PJSIP/8001-03", "PJSIP/trunk-04",
        "2024-02-01 00:00:00", "2024-02-01 00:00:05", "2024-02-01 00:01:00", 55, "ANSWERED", "1.2",
    )  # fmt: skip
    report = run(sue, store_a, data=data.encode())
    assert report.unknown_extensions == 0
    assert Call.objects.get(uniqueid="1.1").agent == alice
    assert Call.objects.get(uniqueid="1.2").agent == bob


def test_unknown_extension_is_counted(sue, store_a):
    data = cdr(
        "8077", "913900000001", "PJSIP/8077-01", "PJSIP/trunk-02",
        "2024-01-31 10:00:00", "2024-01-31 10:00:03", "2024-01-31 10:01:00", 57, "ANSWERED", "2.1",
    )  # fmt: skip
    report = run(sue, store_a, data=data.encode())
    assert report.unknown_extensions == 1
    assert Call.objects.get().agent is None


def test_agents_cannot_import_and_other_stores_are_refused(alice, mary, store_a, sue):
    with pytest.raises(PermissionDenied):
        run(alice, store_a, "master_basic.csv")
    with pytest.raises(PermissionDenied):
        run(mary, store_a, "master_basic.csv")
    assert CallImport.objects.count() == 0


def test_a_failed_import_leaves_a_report_and_no_rows(sue, store_a, monkeypatch):
    def boom(self):
        raise RuntimeError("disk full")

    monkeypatch.setattr(CdrImport, "_match", boom)
    with pytest.raises(RuntimeError):
        run(sue, store_a, "master_basic.csv")
    report = CallImport.objects.get()
    assert report.status == ImportStatus.FAILED
    assert "disk full" in report.failure
    assert Call.objects.count() == 0


def test_imports_left_running_are_marked_interrupted(sue, store_a):
    report = services.start_report(
        actor=sue, store=store_a, source=None, kind="cdr", format="asterisk_csv",
        file_name="x.csv", digest="", size=1, via="api",
    )  # fmt: skip
    CallImport.objects.filter(pk=report.pk).update(
        started_at=report.started_at - timedelta(hours=3)
    )
    assert services.mark_interrupted() == 1
    report.refresh_from_db()
    assert report.status == ImportStatus.INTERRUPTED


def test_first_time_caller_becomes_a_lead_and_takes_the_call(sue, store_a, alice, mike, make_lead):
    run(sue, store_a, "master_basic.csv")
    missed = Call.objects.get(uniqueid="1705287000.9")
    assert missed.lead is None
    assert missed.new_caller
    lead = make_lead(
        mike,
        phone="13812345679",
        owner=alice,
        received_at=datetime(2024, 1, 15, 11, 0, tzinfo=SHANGHAI),
    )
    missed.refresh_from_db()
    assert missed.lead == lead
    assert missed.new_caller


def test_logged_call_is_verified_by_the_pbx_log(sue, store_a, alice, mike, lead_138):
    at = datetime(2024, 1, 15, 10, 33, tzinfo=SHANGHAI)
    real = followup_log(
        actor=mike,
        agent=alice,
        lead=lead_138,
        channel=Channel.CALL,
        result=Result.REACHED,
        occurred_at=at,
    )
    invented = followup_log(
        actor=mike,
        agent=alice,
        lead=lead_138,
        channel=Channel.CALL,
        result=Result.REACHED,
        occurred_at=at + timedelta(hours=3),
    )
    run(sue, store_a, "master_basic.csv")
    real.refresh_from_db()
    invented.refresh_from_db()
    assert real.verified_call.uniqueid == "1705285800.1"
    assert invented.verified_call is None


def test_command_imports_a_folder_once(tmp_path, store_a, alice):
    (tmp_path / "a.csv").write_bytes((SAMPLES / "master_basic.csv").read_bytes())
    (tmp_path / "b.csv").write_bytes((SAMPLES / "master_transfer.csv").read_bytes())
    out = io.StringIO()
    call_command("import_calls", str(tmp_path), store=store_a.code, stdout=out)
    assert Call.objects.count() == 11, out.getvalue()
    call_command("import_calls", str(tmp_path), store=store_a.code, stdout=out)
    assert Call.objects.count() == 11
    assert out.getvalue().count("imported before, skipped") == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_imports_of_one_file_at_once_store_it_once(sue, store_a, alice, bob):
    """The folder job and an upload of the same file at the same moment:
    the store lock runs them one after the other, the second adds nothing."""
    import threading

    from django.db import connection

    data = (SAMPLES / "master_basic.csv").read_bytes()
    reports, barrier = [], threading.Barrier(2)

    def one():
        try:
            barrier.wait()
            reports.append(run(sue, store_a, data=data))
        finally:
            connection.close()

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(report.imported for report in reports) == [0, 9]
    assert Call.objects.count() == 9


def test_correcting_who_had_an_extension_relinks_calls_and_reverifies(
    client, root, sue, store_a, alice, bob, mike, make_lead
):
    """alice logged a call; the PBX shows it on 8002, which the admin then
    corrects (in the Django admin, where ranges in the past are set) to have
    been alice's at the time: the call moves to her and her follow-up is
    verified."""
    lead = make_lead(
        mike,
        phone="13812345670",
        owner=alice,
        received_at=datetime(2024, 1, 14, 9, 0, tzinfo=SHANGHAI),
    )
    logged = followup_log(
        actor=mike,
        agent=alice,
        lead=lead,
        channel=Channel.CALL,
        result=Result.NO_ANSWER,
        occurred_at=datetime(2024, 1, 15, 10, 56, tzinfo=SHANGHAI),
    )
    run(sue, store_a, "master_basic.csv")  # the busy call 8002 → 13812345670 at 10:55
    busy = Call.objects.get(uniqueid="1705287300.11")
    assert busy.agent == bob
    logged.refresh_from_db()
    assert logged.verified_call is None
    client.force_login(root)
    bobs = ExtensionAssignment.objects.get(extension="8002", staff=bob)
    form = {"store": store_a.pk, "extension": "8002", "staff": bob.pk}
    changed = client.post(
        f"/admin/telephony/extensionassignment/{bobs.pk}/change/",
        {**form, "valid_from_0": "2024-02-01", "valid_from_1": "00:00:00"},
    )
    assert changed.status_code == 302, changed.content.decode()[:2000]
    added = client.post(
        "/admin/telephony/extensionassignment/add/",
        {**form, "staff": alice.pk, "valid_to_0": "2024-02-01", "valid_to_1": "00:00:00"},
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    busy.refresh_from_db()
    logged.refresh_from_db()
    assert busy.agent == alice
    assert logged.verified_call == busy


def test_deleting_an_extension_holder_in_the_admin_unlinks_its_calls(
    client, root, sue, store_a, bob
):
    run(sue, store_a, "master_basic.csv")
    busy = Call.objects.get(uniqueid="1705287300.11")
    assert busy.agent == bob
    client.force_login(root)
    bobs = ExtensionAssignment.objects.get(extension="8002", staff=bob)
    deleted = client.post(
        f"/admin/telephony/extensionassignment/{bobs.pk}/delete/", {"post": "yes"}
    )
    assert deleted.status_code == 302
    busy.refresh_from_db()
    assert busy.agent is None
