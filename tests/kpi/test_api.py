"""GET /api/v1/kpi/ (API.md "KPI"): the shape of the answer and who may read
which scope (own agent; a supervisor's team and its agents; a manager's
store, teams and staff; an administrator everything)."""

import pytest

from tests.kpi.conftest import at

pytestmark = pytest.mark.django_db

URL = "/api/v1/kpi/"
API_METRICS = [
    "followup_rate",
    "invite_to_store_rate",
    "deals",
    "sla_48h_compliance",
    "card_creation_rate",
    "return_visit_rate",
    "test_drive_rate",
    "conversion_30d",
    "sales_completion",
]


def test_answer_has_the_contracted_shape(api, mike, alice, store_a, lead, call_log, envision):
    # One lead received in October and first called: follow-up rate 1 / 1;
    # two leads received, one first called → 1 / 2 = 50 %.
    first = lead(alice, at(10, 2))
    call_log(alice, first, at(10, 3))
    lead(alice, at(10, 4))
    response = api(mike).get(URL, {"month": "2026-10", "scope": "store", "id": store_a.pk})
    assert response.status_code == 200
    body = response.json()
    assert (body["month"], body["scope"], body["id"]) == ("2026-10", "store", store_a.pk)
    assert (body["since"], body["until"]) == ("2026-10-01", "2026-10-31")
    for name in API_METRICS:
        assert name in body["metrics"], name
    assert body["metrics"]["followup_rate"] == {"numerator": 1, "denominator": 2, "value": 50.0}
    assert body["metrics"]["deals"] == {"value": 0}
    # An empty base is null, not zero.
    assert body["metrics"]["test_drive_rate"] == {"numerator": 0, "denominator": 0, "value": None}
    # Extra figures ride along.
    assert "meetings_on_time" in body["metrics"]
    assert "answered_in_time_rate" in body["metrics"]


def test_value_keeps_two_decimals(api, mike, alice, store_a, lead, call_log):
    # Seven leads received in October, one of them first called: 1 / 7 = 14.285… → 14.29 %.
    for day in (2, 3, 4, 5, 7, 8):
        lead(alice, at(10, day))
    called = lead(alice, at(10, 9))
    call_log(alice, called, at(10, 10))
    body = api(mike).get(URL, {"month": "2026-10", "scope": "store", "id": store_a.pk}).json()
    assert body["metrics"]["followup_rate"] == {"numerator": 1, "denominator": 7, "value": 14.29}


def test_date_range_instead_of_month(api, mike, alice, store_a, lead):
    lead(alice, at(10, 31, 23, 59, 59))
    lead(alice, at(11, 1, 0, 0, 0))
    response = api(mike).get(
        URL, {"since": "2026-10-15", "until": "2026-11-01", "scope": "store", "id": store_a.pk}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["month"] is None
    assert (body["since"], body["until"]) == ("2026-10-15", "2026-11-01")
    assert body["metrics"]["conversion_30d"]["denominator"] == 2


@pytest.mark.parametrize(
    "params",
    [
        {"month": "2026-13"},
        {"month": "October"},
        {"month": "2026-10", "since": "2026-10-01"},
        {"since": "2026-10-31", "until": "2026-10-01"},
        {"since": "yesterday"},
        {"scope": "planet"},
        {"scope": "agent", "id": "abc"},
    ],
)
def test_bad_parameters_are_400(api, mike, params):
    assert api(mike).get(URL, params).status_code == 400


# Who may read which scope: (user, scope, id fixture or None, expected).
MATRIX = [
    ("alice", "agent", "alice", 200),
    ("alice", "agent", "bob", 404),
    ("alice", "team", "team_a1", 403),
    ("alice", "store", "store_a", 403),
    ("alice", "group", None, 403),
    ("connie", "agent", "connie", 200),
    ("sue", "agent", "alice", 200),
    ("sue", "agent", "carol", 404),
    ("sue", "team", "team_a1", 200),
    ("sue", "team", "team_a2", 404),
    ("sue", "store", "store_a", 403),
    ("mike", "store", "store_a", 200),
    ("mike", "team", "team_a2", 200),
    ("mike", "agent", "carol", 200),
    ("mike", "agent", "dave", 404),
    ("mike", "store", "store_b", 404),
    ("mike", "group", None, 403),
    ("mary", "store", "store_a", 404),
    ("mary", "team", "team_a1", 404),
    ("mary", "agent", "alice", 404),
    ("mary", "store", "store_b", 200),
    ("root", "group", None, 200),
    ("root", "store", "store_b", 200),
    ("root", "agent", "alice", 200),
]


@pytest.mark.parametrize(("username", "kind", "target", "expected"), MATRIX)
def test_scope_matrix(api, everyone, request, team_a1, team_a2, username, kind, target, expected):
    params = {"month": "2026-10", "scope": kind}
    if target is not None:
        params["id"] = request.getfixturevalue(target).pk
    assert api(everyone[username]).get(URL, params).status_code == expected


def test_a_missing_id_is_not_found(api, mike):
    assert api(mike).get(URL, {"scope": "team", "id": 999999}).status_code == 404


def test_defaults_are_the_callers_own(api, alice, sue, mike, root, store_a, team_a1):
    assert api(alice).get(URL).json()["scope"] == "agent"
    assert api(alice).get(URL).json()["id"] == alice.pk
    assert (api(sue).get(URL).json()["scope"], api(sue).get(URL).json()["id"]) == (
        "team",
        team_a1.pk,
    )
    assert api(mike).get(URL, {"scope": "store"}).json()["id"] == store_a.pk
    assert api(root).get(URL).json()["scope"] == "group"


def test_anonymous_is_401(api, db):
    assert api().get(URL).status_code == 401


def test_schema_documents_the_kpi_endpoint(api, db):
    schema = api().get("/api/v1/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/kpi/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"month", "scope", "id", "since"}
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    body = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
    assert {"month", "scope", "id", "metrics"} <= set(body)
