"""API.md "Telephony": call-log imports over the API, the import reports,
the calls list and detail with their scope, and a lead's calls."""

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from followups.models import Channel, Result
from followups.services import followup_log
from telephony.models import Call, CallImport, CallSource, Recording

pytestmark = pytest.mark.django_db

IMPORTS = "/api/v1/telephony/cdr-imports/"
CALLS = "/api/v1/calls/"
LEADS = "/api/v1/leads/"
SAMPLES = Path(__file__).parent / "samples"
SHANGHAI = ZoneInfo("Asia/Shanghai")
BEFORE_THE_CALLS = datetime(2024, 1, 14, 9, 0, tzinfo=SHANGHAI)

# master_basic.csv, by uniqueid: who made each call (by extension).
ALICES = {"1705285800.1", "1705286100.3", "1705286400.5", "1705286700.7", "1705287900.14"}
BOBS = {"1705287000.9", "1705287300.11", "1705287600.13"}
CAROLS = {"1705288200.16"}  # through the queue, to 8003
ALL_CALLS = ALICES | BOBS | CAROLS


def upload(client, name=None, *, data=None, **fields):
    content = data if data is not None else (SAMPLES / name).read_bytes()
    fields["file"] = SimpleUploadedFile(name or "Master.csv", content, content_type="text/csv")
    fields.setdefault("format", "asterisk_csv")
    return client.post(IMPORTS, fields, format="multipart")


def uniqueids(response):
    assert response.status_code == 200, response.content
    return {row["uniqueid"] for row in response.json()["results"]}


def call(uniqueid):
    return Call.objects.get(uniqueid=uniqueid)


@pytest.fixture
def lead_138(make_lead, alice, mike):
    """alice's lead of the number that calls in first in master_basic.csv."""
    return make_lead(mike, phone="13812345678", owner=alice, received_at=BEFORE_THE_CALLS)


@pytest.fixture
def imported(api, mike, alice, bob, carol, lead_138, make_lead):
    """master_basic.csv imported by mike; bob's busy call (to 13812345670)
    is on a lead of alice's."""
    make_lead(mike, phone="13812345670", owner=alice, received_at=BEFORE_THE_CALLS)
    response = upload(api(mike), "master_basic.csv")
    assert response.status_code == 200, response.content
    assert response.json()["matched_leads"] == 2
    return response.json()


# ---------------------------------------------------------------- importing


def test_upload_imports_the_file_and_answers_the_report(api, sue, store_a, alice, bob, lead_138):
    response = upload(api(sue), "master_basic.csv")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["imported"] == 9
    assert data["duplicates"] == 0
    assert data["calls"] == 9
    assert data["matched_leads"] == 1
    assert data["unmatched"] == 7
    assert data["unknown_extensions"] == 1  # 8003: carol is not there
    assert data["errors"] == []
    assert data["error_count"] == 0
    assert data["status"] == "done"
    assert data["store"] == store_a.pk
    assert data["format"] == "asterisk_csv"
    assert data["file_name"] == "master_basic.csv"
    report = CallImport.objects.get(pk=data["id"])
    assert report.via == "api"
    assert report.started_by == sue
    assert data["started_by"] == sue.pk
    assert data["started_at"].endswith("+08:00")
    assert Call.objects.filter(store=store_a).count() == 9
    assert call("1705285800.1").lead == lead_138


def test_reimporting_the_same_file_imports_nothing(api, sue, alice, bob):
    client = api(sue)
    assert upload(client, "master_basic.csv").json()["imported"] == 9
    again = upload(client, "master_basic.csv")
    assert again.status_code == 200, again.content
    data = again.json()
    assert data["imported"] == 0
    assert data["duplicates"] == 9
    assert data["calls"] == 0
    assert Call.objects.count() == 9


def test_a_large_upload_is_read_from_its_temporary_file(api, sue, alice, bob, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # every upload goes to disk, like a big Master.csv
    response = upload(api(sue), "master_basic.csv")
    assert response.status_code == 200, response.content
    assert response.json()["imported"] == 9


def test_bad_lines_are_listed_and_good_lines_kept(api, sue, alice, bob):
    response = upload(api(sue), "master_malformed.csv")
    assert response.status_code == 200, response.content
    data = response.json()
    # Too few columns, a bad date, an unterminated quote, an unknown
    # disposition, a duration in words.
    assert [error["line"] for error in data["errors"]] == [2, 5, 6, 8, 9]
    assert all(error["message"] for error in data["errors"])
    assert data["error_count"] == 5
    assert data["status"] == "done"
    assert data["imported"] == 4
    assert set(Call.objects.values_list("uniqueid", flat=True)) == {
        "1705286100.3",
        "1705287300.11",
        "1705287000.9",
        "1705286700.7",
    }


def test_the_report_keeps_the_first_thousand_errors(api, sue, alice):
    good = (SAMPLES / "master_basic.csv").read_bytes().splitlines(keepends=True)[1]
    response = upload(api(sue), data=b"not a CDR\n" * 1005 + good)
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["error_count"] == 1005
    assert len(data["errors"]) == 1000
    assert data["errors"][-1]["line"] == 1000
    assert data["imported"] == 1


def test_gbk_file(api, sue):
    response = upload(api(sue), "master_gbk.csv")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["errors"] == []
    assert data["imported"] == 2
    assert data["duplicates"] == 1
    assert Call.objects.filter(external_number="+862162345678").exists()


def test_transfer_file_makes_one_call_with_its_legs(api, mike, alice, bob):
    response = upload(api(mike), "master_transfer.csv")
    data = response.json()
    assert (data["imported"], data["duplicates"], data["calls"]) == (5, 1, 2)
    detail = api(mike).get(f"{CALLS}{Call.objects.get(key='1705298400.20').pk}/").json()
    assert len(detail["legs"]) == 3
    assert detail["billsec"] == 150
    assert detail["agent"] == alice.pk


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"format": "excel"}, "format"),
        ({"format": "freepbx_recordings"}, "format"),  # a recordings format, not a call log
        ({"data": b""}, "file"),
        ({"file": None}, "file"),
    ],
)
def test_bad_requests_are_400_per_field(api, sue, fields, field):
    client = api(sue)
    if "file" in fields:
        response = client.post(IMPORTS, {"format": "asterisk_csv"}, format="multipart")
    else:
        response = upload(client, "master_basic.csv", **fields)
    assert response.status_code == 400, response.content
    assert response.json()[field][0]
    assert not Call.objects.exists()
    assert not CallImport.objects.exists()


@pytest.mark.parametrize("username", ["alice", "carol", "connie", "dave"])
def test_only_supervisors_managers_and_admins_import(api, everyone, username):
    response = upload(api(everyone[username]), "master_basic.csv")
    assert response.status_code == 403
    assert api(everyone[username]).get(IMPORTS).status_code == 403
    assert not CallImport.objects.exists()


def test_anonymous_is_401(api, db):
    assert upload(api(), "master_basic.csv").status_code == 401
    assert api().get(IMPORTS).status_code == 401
    assert api().get(CALLS).status_code == 401


def test_a_store_outside_the_scope_is_a_400(api, mary, store_a, store_b, alice):
    response = upload(api(mary), "master_basic.csv", store=store_a.pk)
    assert response.status_code == 400
    assert response.json()["store"][0]
    assert not CallImport.objects.exists()
    # Without a store: her own.
    response = upload(api(mary), "master_basic.csv")
    assert response.status_code == 200, response.content
    assert response.json()["store"] == store_b.pk
    assert not Call.objects.filter(store=store_a).exists()


def test_a_group_administrator_names_the_store(api, root, store_a, store_b):
    response = upload(api(root), "master_basic.csv")
    assert response.status_code == 400
    assert response.json()["store"][0]
    response = upload(api(root), "master_basic.csv", store=store_b.pk)
    assert response.status_code == 200, response.content
    assert Call.objects.filter(store=store_b).count() == 9


def test_a_source_gives_its_settings_and_its_store(api, sue, root, store_a, store_b, mary):
    source = CallSource.objects.create(store=store_a, name="总机", area_code="0512")
    response = upload(api(sue), "master_basic.csv", source=source.pk)
    assert response.status_code == 200, response.content
    assert response.json()["source"] == source.pk
    # alice dialled 9 62345678: the source's area code, not the store's (021).
    assert call("1705287900.14").external_number == "+8651262345678"
    # Root names a store that is not the source's; mary a source she cannot see.
    response = upload(api(root), "master_gbk.csv", source=source.pk, store=store_b.pk)
    assert response.status_code == 400
    assert response.json()["source"][0]
    response = upload(api(mary), "master_gbk.csv", source=source.pk)
    assert response.status_code == 400
    assert response.json()["source"][0]
    response = upload(api(root), "master_gbk.csv", source=source.pk)
    assert response.status_code == 200, response.content
    assert response.json()["store"] == store_a.pk


# ---------------------------------------------------------------- reports


def test_reports_list_and_detail_are_scoped(api, mike, mary, root, imported):
    upload(api(mike), "master_malformed.csv")
    response = api(mike).get(IMPORTS)
    assert response.status_code == 200, response.content
    rows = response.json()["results"]
    assert [row["file_name"] for row in rows] == ["master_malformed.csv", "master_basic.csv"]
    assert "errors" not in rows[0]
    assert rows[0]["error_count"] > 0
    detail = api(mike).get(f"{IMPORTS}{rows[0]['id']}/").json()
    assert len(detail["errors"]) == detail["error_count"]
    assert api(mike).get(IMPORTS, {"status": "failed"}).json()["count"] == 0
    assert api(mary).get(IMPORTS).json()["count"] == 0
    assert api(mary).get(f"{IMPORTS}{imported['id']}/").status_code == 404
    assert api(root).get(IMPORTS).json()["count"] == 2


# ---------------------------------------------------------------- calls: scope


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        # alice: the calls she made, and bob's busy call to her lead.
        ("alice", ALICES | {"1705287300.11"}),
        ("bob", BOBS),
        ("carol", CAROLS),
        ("sue", ALICES | BOBS),  # team A1's agents, not carol of A2
        ("mike", ALL_CALLS),
        ("root", ALL_CALLS),
        ("connie", set()),
        ("mary", set()),
        ("dave", set()),
    ],
)
def test_calls_list_is_scoped(api, everyone, imported, username, expected):
    assert uniqueids(api(everyone[username]).get(CALLS, {"page_size": 100})) == expected


def test_supervisor_sees_calls_on_the_teams_leads(api, sue, bob, mike, make_lead, imported):
    """carol (team A2) took a call of a lead of bob's (team A1)."""
    lead = make_lead(mike, owner=bob)
    Call.objects.filter(uniqueid__in=CAROLS).update(lead=lead)
    assert uniqueids(api(sue).get(CALLS, {"page_size": 100})) == ALICES | BOBS | CAROLS
    assert uniqueids(api(bob).get(CALLS, {"page_size": 100})) == BOBS | CAROLS


@pytest.mark.parametrize(
    ("username", "uniqueid", "expected"),
    [
        ("alice", "1705285800.1", 200),
        ("alice", "1705287300.11", 200),  # bob's call on her lead
        ("alice", "1705287600.13", 404),  # bob's
        ("bob", "1705285800.1", 404),
        ("sue", "1705287600.13", 200),
        ("sue", "1705288200.16", 404),  # carol's, team A2
        ("mike", "1705288200.16", 200),
        ("mary", "1705285800.1", 404),
        ("dave", "1705287600.13", 404),
        ("root", "1705288200.16", 200),
    ],
)
def test_call_detail_404_outside_scope(api, everyone, imported, username, uniqueid, expected):
    response = api(everyone[username]).get(f"{CALLS}{call(uniqueid).pk}/")
    assert response.status_code == expected


def test_unknown_call_is_404(api, mike):
    assert api(mike).get(f"{CALLS}987654/").status_code == 404


# ---------------------------------------------------------------- calls: fields


def test_call_fields_legs_recordings_and_verified_followups(
    api, mike, alice, store_a, lead_138, imported
):
    inbound = call("1705285800.1")
    recording = Recording.objects.create(
        store=store_a,
        call=inbound,
        key="1705285800.1",
        file="recordings/2024/01/15/in.wav",
        original_name="in.wav",
        sha256="0" * 64,
        started_at=inbound.started_at,
        direction="inbound",
        agent=alice,
        lead=lead_138,
    )
    logged = followup_log(
        actor=mike,
        agent=alice,
        lead=lead_138,
        channel=Channel.CALL,
        result=Result.REACHED,
        occurred_at=datetime(2024, 1, 15, 10, 33, tzinfo=SHANGHAI),
    )
    rows = api(alice).get(CALLS, {"page_size": 100}).json()["results"]
    row = next(r for r in rows if r["id"] == inbound.pk)
    assert "legs" not in row
    assert row["recordings"] == [
        {"id": recording.pk, "audio": f"/api/v1/recordings/{recording.pk}/audio/"}
    ]
    data = api(alice).get(f"{CALLS}{inbound.pk}/").json()
    assert data["store"] == store_a.pk
    assert data["started_at"] == "2024-01-15T10:30:00+08:00"
    assert data["answered_at"] == "2024-01-15T10:30:05+08:00"
    assert data["ended_at"] == "2024-01-15T10:32:05+08:00"
    assert (data["duration"], data["billsec"], data["ring_seconds"]) == (125, 120, 5)
    assert (data["direction"], data["disposition"]) == ("inbound", "ANSWERED")
    assert (data["extension"], data["agent"], data["agent_name"]) == (
        "8001",
        alice.pk,
        alice.display_name,
    )
    assert (data["lead"], data["lead_name"]) == (lead_138.pk, "王小明")
    assert data["external_number"] == "+8613812345678"
    assert data["number_display"]
    assert data["new_caller"] is False
    assert data["uniqueid"] == "1705285800.1"
    assert data["recordings"] == row["recordings"]
    assert data["verified_followups"] == [logged.pk]
    (leg,) = data["legs"]
    assert leg["line"] == 1
    assert leg["started_at"] == "2024-01-15T10:30:00+08:00"
    assert leg["channel"] == "PJSIP/ct-trunk-00000001"
    assert leg["disposition"] == "ANSWERED"
    missed = api(mike).get(f"{CALLS}{call('1705287000.9').pk}/").json()
    assert (missed["answered_at"], missed["ring_seconds"], missed["lead"]) == (None, None, None)
    assert missed["new_caller"] is True
    assert missed["legs"][0]["answered_at"] is None


# ---------------------------------------------------------------- calls: filters


def test_filters(api, mike, alice, bob, lead_138, imported):
    client = api(mike)

    def ids(**params):
        return uniqueids(client.get(CALLS, {"page_size": 100, **params}))

    assert ids(lead=lead_138.pk) == {"1705285800.1"}
    assert ids(agent=bob.pk) == BOBS
    assert ids(direction="inbound") == {"1705285800.1", "1705287000.9", "1705288200.16"}
    assert ids(direction="internal") == {"1705286700.7"}
    assert ids(disposition="BUSY") == {"1705287300.11"}
    assert client.get(CALLS, {"disposition": ["NO ANSWER", "FAILED"]}).json()["count"] == 2
    assert ids(started_after="2024-01-15T11:00:00+08:00") == {
        "1705287600.13",
        "1705287900.14",
        "1705288200.16",
    }
    assert ids(started_before="2024-01-15T10:35:00+08:00") == {"1705285800.1"}
    assert ids(
        started_after="2024-01-15T10:35:00+08:00", started_before="2024-01-15T10:45:00+08:00"
    ) == {"1705286100.3", "1705286400.5"}
    assert ids(new_caller="true") == {"1705287000.9", "1705288200.16"}
    assert ids(number="139 1234 5678") == {"1705286100.3"}
    assert ids(number="5678") == {"1705285800.1", "1705286100.3", "1705286400.5", "1705287900.14"}
    assert ids(store=imported["store"]) == ALL_CALLS


def test_filters_outside_scope_are_400(api, mike, alice, dave, store_b, imported):
    assert api(mike).get(CALLS, {"agent": dave.pk}).status_code == 400
    assert api(mike).get(CALLS, {"store": store_b.pk}).status_code == 400
    assert api(mike).get(CALLS, {"direction": "sideways"}).status_code == 400
    assert api(mike).get(CALLS, {"started_after": "yesterday"}).status_code == 400


def test_calls_list_query_count_does_not_grow_with_rows(
    api, mike, store_a, imported, django_assert_max_num_queries
):
    client = api(mike)
    with django_assert_max_num_queries(4):  # token, count, page, recordings
        assert client.get(CALLS).json()["count"] == 9
    upload(client, "master_transfer.csv")
    for row in Call.objects.all():
        Recording.objects.create(
            store=store_a,
            call=row,
            key=row.key,
            file=f"recordings/{row.key}.wav",
            original_name=f"{row.key}.wav",
            sha256="0" * 64,
            started_at=row.started_at,
            direction=row.direction,
            agent=row.agent,
            lead=row.lead,
        )
    with django_assert_max_num_queries(4):
        response = client.get(CALLS)
    assert response.json()["count"] == 11
    assert all(len(row["recordings"]) == 1 for row in response.json()["results"])


# ---------------------------------------------------------------- a lead's calls


def test_lead_detail_has_its_calls(api, alice, bob, mike, mary, lead_138, imported):
    transfer = upload(api(mike), "master_transfer.csv").json()
    assert transfer["matched_leads"] == 1  # the transfer, from 13812345678
    response = api(alice).get(f"{LEADS}{lead_138.pk}/")
    assert response.status_code == 200, response.content
    calls = response.json()["calls"]
    assert [row["id"] for row in calls] == [
        call("1705298400.20").pk,  # newest first
        call("1705285800.1").pk,
    ]
    assert {"started_at", "direction", "disposition", "billsec", "agent", "recordings"} <= set(
        calls[0]
    )
    assert "legs" not in calls[0]
    # The lead went to bob: he reads all of its calls, alice still those she made.
    api(mike).post(
        f"{LEADS}{lead_138.pk}/assign/", {"owner": bob.pk, "reason": "调岗"}, format="json"
    )
    assert len(api(bob).get(f"{LEADS}{lead_138.pk}/").json()["calls"]) == 2
    assert len(api(mike).get(f"{LEADS}{lead_138.pk}/").json()["calls"]) == 2
    assert api(mary).get(f"{LEADS}{lead_138.pk}/").status_code == 404


def test_lead_without_calls_has_an_empty_list(api, alice, make_lead):
    lead = make_lead(alice)
    assert api(alice).get(f"{LEADS}{lead.pk}/").json()["calls"] == []


# ---------------------------------------------------------------- schema


def test_schema_documents_the_import_and_the_calls(api, db):
    schema = api().get("/api/v1/schema/?format=json").json()
    operation = schema["paths"][IMPORTS]["post"]
    body = operation["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    fields = schema["components"]["schemas"][body.rsplit("/", 1)[1]]["properties"]
    assert {"file", "format", "source", "store"} <= set(fields)
    assert "1000" in operation["description"]
    parameters = {p["name"] for p in schema["paths"][CALLS]["get"]["parameters"]}
    assert {"lead", "agent", "direction", "started_after", "started_before", "disposition"} <= (
        parameters
    )
    lead = schema["components"]["schemas"]["LeadDetail"]["properties"]
    assert "calls" in lead
