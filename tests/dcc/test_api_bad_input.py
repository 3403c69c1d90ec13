"""Bad input found by fuzzing the API (and by hand) answers 400 naming the
field, never a server error: times PostgreSQL or Python cannot hold, text
longer than its column, numbers beyond an integer column. Times come out as
RFC 3339, and the schema documents every status an operation answers.

The database errors behind these (over-long text, out-of-range integers and
offsets) happen on PostgreSQL only; on SQLite these tests pass either way.
"""

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from leads.models import Lead
from tests.telephony.recording_helpers import use_media, wav_bytes

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def assert_400_on(response, field):
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()


# ---------------------------------------------------------------- filters

TIME_FILTERS = [
    (LEADS, "received_after"),
    (LEADS, "received_before"),
    ("/api/v1/followups/", "occurred_after"),
    ("/api/v1/appointments/", "scheduled_before"),
    ("/api/v1/calls/", "started_after"),
    ("/api/v1/recordings/", "started_before"),
]


@pytest.mark.parametrize(("path", "name"), TIME_FILTERS)
def test_a_time_filter_with_an_offset_postgresql_cannot_store_is_compared_in_utc(
    api, root, make_lead, mike, path, name
):
    """+20:00 is a valid RFC 3339 offset (PostgreSQL stores ±15:59 at most)."""
    make_lead(mike, received_at=datetime(2024, 3, 1, 12, tzinfo=UTC))
    response = api(root).get(path, {name: "2024-03-01T00:00:00+20:00"})
    assert response.status_code == 200, response.content


def test_the_time_filter_compares_the_moment_given(api, root, make_lead, mike):
    lead = make_lead(mike, received_at=datetime(2024, 3, 1, 12, tzinfo=UTC))
    # 2024-03-01T23:00+20:00 is 03:00 UTC, before the lead; 2024-03-02T09:00+20:00, 13:00 UTC.
    before = api(root).get(LEADS, {"received_after": "2024-03-01T23:00:00+20:00"}).json()
    after = api(root).get(LEADS, {"received_after": "2024-03-02T09:00:00+20:00"}).json()
    assert [row["id"] for row in before["results"]] == [lead.pk]
    assert after["results"] == []


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00",  # overflows when shifted to UTC
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-10:00",
        "1900-01-01T00:00:00",  # Shanghai's local mean time, +08:05:43
        "2024-01-01T00:00:00+99:00",  # no offset at all
    ],
)
@pytest.mark.parametrize(("path", "name"), TIME_FILTERS)
def test_a_time_filter_outside_the_years_kept_is_a_400(api, root, path, name, value):
    assert_400_on(api(root).get(path, {name: value}), name)


# ---------------------------------------------------------------- bodies


@pytest.mark.parametrize(
    "value", ["0001-01-01T00:00:00+01:00", "1900-06-01T00:00:00+08:00", "2100-01-01T00:00:00Z"]
)
def test_a_time_outside_the_years_kept_is_a_400_on_its_field(api, mike, value):
    body = {"name": "张三", "phone": "13812345678", "source": "web", "received_at": value}
    response = api(mike).post(LEADS, body, format="json")
    assert_400_on(response, "received_at")
    assert not Lead.objects.exists()


def test_a_date_outside_the_years_kept_is_a_400_on_its_field(api, mike, make_lead):
    lead = make_lead(mike)
    response = api(mike).patch(
        f"{LEADS}{lead.pk}/", {"expected_purchase_date": "0001-01-01"}, format="json"
    )
    assert_400_on(response, "expected_purchase_date")


def test_a_follow_up_at_year_one_is_a_400(api, alice, make_lead):
    lead = make_lead(alice)
    response = api(alice).post(
        f"{LEADS}{lead.pk}/followups/",
        {"channel": "call", "result": "reached", "next_followup_at": "0001-01-01T00:00:00Z"},
        format="json",
    )
    assert_400_on(response, "next_followup_at")


def test_a_lead_name_longer_than_its_column_is_a_400(api, mike, make_lead):
    body = {"name": "王" * 51, "phone": "13812345678", "source": "web"}
    assert_400_on(api(mike).post(LEADS, body, format="json"), "name")
    lead = make_lead(mike)
    assert_400_on(api(mike).patch(f"{LEADS}{lead.pk}/", {"name": "王" * 51}, format="json"), "name")
    body["name"] = "王" * 50
    assert api(mike).post(LEADS, body, format="json").status_code == 201


def test_a_reason_longer_than_the_history_keeps_is_a_400(api, mike, alice, make_lead):
    lead = make_lead(mike)
    response = api(mike).post(
        f"{LEADS}{lead.pk}/assign/", {"owner": alice.pk, "reason": "x" * 101}, format="json"
    )
    assert_400_on(response, "reason")
    lead.refresh_from_db()
    assert lead.owner is None


def test_a_recording_longer_than_an_integer_column_is_a_400(api, mike, settings, tmp_path):
    use_media(settings, tmp_path)
    upload = SimpleUploadedFile("rec.wav", wav_bytes(0.1), content_type="audio/wav")
    response = api(mike).post(
        "/api/v1/telephony/recordings/",
        {"file": upload, "started_at": "2024-03-01T10:00:00+08:00", "duration": 2**31},
        format="multipart",
    )
    assert_400_on(response, "duration")


# ---------------------------------------------------------------- KPI


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"scope": "store", "id": "²"}, "id"),  # a digit to str.isdigit, not to int()
        ({"month": "0001-01"}, "month"),
        ({"month": "9999-12"}, "month"),
        ({"since": "0001-01-01", "until": "0001-01-31"}, "since"),
    ],
)
def test_kpi_parameters_out_of_range_are_a_400(api, mike, params, field):
    assert_400_on(api(mike).get("/api/v1/kpi/", params), field)


@pytest.mark.parametrize(
    ("params", "field"), [({"month": "0001-01"}, "month"), ({"store": "²"}, "store")]
)
def test_kpi_export_parameters_out_of_range_are_a_400(api, mike, params, field):
    params.setdefault("month", "2024-03")
    assert_400_on(api(mike).get("/api/v1/kpi/export/", params), field)


# ---------------------------------------------------------------- output and schema


def test_an_old_time_is_written_in_rfc3339_not_with_local_mean_time(api, mike, make_lead):
    """Asia/Shanghai before 1901 is +08:05:43, which RFC 3339 cannot write:
    such a time (from before these checks) comes out in UTC."""
    lead = make_lead(mike)
    old = datetime(1900, 6, 1, 12, tzinfo=ZoneInfo("Asia/Shanghai"))
    Lead.objects.filter(pk=lead.pk).update(received_at=old)
    data = api(mike).get(f"{LEADS}{lead.pk}/").json()
    assert RFC3339.match(data["received_at"]), data["received_at"]
    assert datetime.fromisoformat(data["received_at"]) == old


@pytest.fixture
def schema(client):
    return client.get("/api/v1/schema/", {"format": "json"}).json()


def test_the_schema_documents_every_operations_errors(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            where = f"{method.upper()} {path}"
            # An operation open to anyone (a signed push: no caller, no role)
            # has no 403 to answer.
            public = {} in operation.get("security", [])
            if public:
                assert "403" not in codes, where
            else:
                assert {"401", "403"} <= codes, where
                assert "content" in operation["responses"]["403"], where
            if "{" in path:
                assert "404" in codes, where
            query = [p for p in operation.get("parameters", []) if p["in"] == "query"]
            if method != "get" or query:
                assert "400" in codes, where


def test_throttled_operations_document_429(client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
        "DEFAULT_THROTTLE_RATES": {"user": "1000/hour"},
    }
    schema = client.get("/api/v1/schema/", {"format": "json"}).json()
    assert "429" in schema["paths"]["/api/v1/leads/"]["get"]["responses"]


@pytest.mark.parametrize(
    ("component", "field"),
    [
        ("Lead", "owner_name"),
        ("Lead", "channel"),
        ("Lead", "defeat_reason"),
        ("QueueLead", "channel"),
        ("Appointment", "receiver_name"),
        ("QueueAppointment", "receiver_name"),
        ("QueueLead", "intended_model_name"),
    ],
)
def test_fields_answered_as_null_are_nullable_in_the_schema(schema, component, field):
    assert schema["components"]["schemas"][component]["properties"][field].get("nullable") is True


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/leads/abc/"),
        ("get", "/api/v1/no-such-thing/"),
        ("post", "/api/v1/appointments/x/arrive/"),  # no CSRF 403 page either
    ],
)
def test_an_api_path_that_names_nothing_is_a_json_404(api, mike, method, path):
    response = getattr(api(mike), method)(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


def test_an_api_path_without_its_slash_still_redirects(client):
    assert client.get("/api/v1/leads").status_code == 301


# ---------------------------------------------------------------- credentials with bad bytes


def test_a_nul_byte_in_the_token_is_refused_not_looked_up(client, db):
    response = client.get("/api/v1/leads/", HTTP_AUTHORIZATION="Token abc\x00def")
    assert response.status_code == 401


def test_a_nul_byte_in_the_session_cookie_is_no_session(client, db):
    response = client.get("/api/v1/leads/", HTTP_COOKIE="sessionid=abcdefgh\x00ijkl")
    assert response.status_code in (401, 403)
    page = client.get("/", HTTP_COOKIE="sessionid=abcdefgh\x00ijkl")
    assert page.status_code == 302  # to the login page, as with no session
