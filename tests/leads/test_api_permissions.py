"""Who may reach which lead through the API: one matrix of (persona, method,
url, expected) over the personas of tests/conftest.py (STYLE "Permissions").

Outside the caller's scope a lead answers 404 (as if it did not exist); a
wrong role for an action answers 403 before any lead is looked up;
anonymous callers get 401.
"""

import pytest

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/"


@pytest.fixture
def leads(everyone, make_lead):
    """One lead per owner, plus one of store A that nobody owns yet."""
    owned = {
        name: make_lead(everyone[name]) for name in ("alice", "bob", "carol", "connie", "dave")
    }
    owned["unassigned"] = make_lead(everyone["mike"])
    return owned


def _body(action, everyone):
    return {
        "": {"note": "改备注"},
        "level/": {"level": "H", "reason": "近期购车"},
        "assign/": {"owner": everyone["bob"].pk, "reason": "调整"},
        "activate/": {"owner": everyone["bob"].pk, "reason": "激活"},
        "defeat/": {"reason": "price"},
        "defeat/approve/": {},
        "defeat/reject/": {},
        "invalidate/": {"reason": "wrong_number"},
        "deal/": {"stage": "order"},
    }[action]


# (persona, method, action under /leads/{id}/, whose lead, expected)
DETAIL_MATRIX = [
    # agents and callers: their own leads only
    ("alice", "get", "", "alice", 200),
    ("alice", "get", "", "bob", 404),
    ("alice", "get", "", "carol", 404),
    ("alice", "get", "", "dave", 404),
    ("alice", "get", "", "unassigned", 404),
    ("alice", "patch", "", "bob", 404),
    ("alice", "patch", "", "alice", 200),
    ("alice", "post", "level/", "bob", 404),
    ("alice", "post", "level/", "dave", 404),
    ("alice", "post", "level/", "alice", 200),
    ("alice", "post", "defeat/", "bob", 404),
    ("alice", "post", "invalidate/", "dave", 404),
    ("alice", "post", "deal/", "bob", 404),
    ("bob", "get", "", "bob", 200),
    ("bob", "get", "", "alice", 404),
    ("carol", "get", "", "carol", 200),
    ("carol", "get", "", "alice", 404),
    ("dave", "get", "", "dave", 200),
    ("dave", "get", "", "alice", 404),
    # a showroom consultant sees the leads they own, nothing of the DCC's
    ("connie", "get", "", "connie", 200),
    ("connie", "get", "", "alice", 404),
    ("connie", "get", "", "unassigned", 404),
    # a supervisor: the team's leads, not another team's
    ("sue", "get", "", "alice", 200),
    ("sue", "get", "", "bob", 200),
    ("sue", "get", "", "carol", 404),
    ("sue", "get", "", "dave", 404),
    ("sue", "post", "level/", "bob", 200),
    ("sue", "post", "level/", "carol", 404),
    # a manager: the whole store, not another store
    ("mike", "get", "", "alice", 200),
    ("mike", "get", "", "carol", 200),
    ("mike", "get", "", "connie", 200),
    ("mike", "get", "", "unassigned", 200),
    ("mike", "get", "", "dave", 404),
    ("mike", "post", "assign/", "alice", 200),
    ("mike", "post", "assign/", "dave", 404),
    ("mike", "post", "defeat/approve/", "dave", 404),
    ("mike", "post", "level/", "dave", 404),
    ("mary", "get", "", "dave", 200),
    ("mary", "get", "", "alice", 404),
    ("mary", "post", "assign/", "alice", 404),
    # a group administrator: everything
    ("root", "get", "", "alice", 200),
    ("root", "get", "", "dave", 200),
    ("root", "post", "level/", "dave", 200),
    # only a manager (or admin) changes ownership or decides defeats: 403 first
    ("alice", "post", "assign/", "alice", 403),
    ("alice", "post", "assign/", "dave", 403),
    ("alice", "post", "activate/", "alice", 403),
    ("alice", "post", "defeat/approve/", "alice", 403),
    ("alice", "post", "defeat/reject/", "alice", 403),
    ("carol", "post", "assign/", "carol", 403),
    ("connie", "post", "assign/", "connie", 403),
    # A supervisor reassigns within their team (alice's lead to bob, both sue's).
    ("sue", "post", "assign/", "alice", 200),
    ("sue", "post", "assign/", "dave", 404),
    ("sue", "post", "activate/", "alice", 403),
    ("sue", "post", "defeat/approve/", "alice", 403),
    # anonymous
    (None, "get", "", "alice", 401),
    (None, "patch", "", "alice", 401),
    (None, "post", "assign/", "alice", 401),
    (None, "post", "defeat/", "alice", 401),
]


@pytest.mark.parametrize(("username", "method", "action", "owner", "expected"), DETAIL_MATRIX)
def test_lead_detail_matrix(
    api, everyone, leads, envision, username, method, action, owner, expected
):
    client = api(everyone[username] if username else None)
    data = _body(action, everyone)
    if action == "deal/":
        data["vehicle_model"] = envision.pk
    path = f"{LEADS}{leads[owner].pk}/{action}"
    response = getattr(client, method)(path, data, format="json")
    assert response.status_code == expected, response.content


# (persona, method, collection url, expected)
COLLECTION_MATRIX = [
    ("alice", "post", "bulk-assign/", 403),
    ("carol", "post", "bulk-assign/", 403),
    ("sue", "post", "bulk-assign/", 403),
    ("connie", "post", "bulk-assign/", 403),
    ("alice", "post", "transfer/", 403),
    ("sue", "post", "transfer/", 403),
    ("mike", "post", "bulk-assign/", 200),
    ("mike", "post", "transfer/", 200),
    (None, "get", "", 401),
    (None, "post", "", 401),
    (None, "post", "bulk-assign/", 401),
    (None, "post", "transfer/", 401),
    (None, "get", "/api/v1/defeat-reasons/", 401),
]


@pytest.mark.parametrize(("username", "method", "path", "expected"), COLLECTION_MATRIX)
def test_lead_collection_matrix(api, everyone, leads, username, method, path, expected):
    client = api(everyone[username] if username else None)
    data = {
        "bulk-assign/": {
            "leads": [leads["unassigned"].pk],
            "owners": [everyone["alice"].pk],
            "reason": "分配",
        },
        "transfer/": {
            "from_staff": everyone["connie"].pk,
            "to_staff": everyone["alice"].pk,
            "reason": "移交",
        },
    }.get(path, {})
    url = path if path.startswith("/") else f"{LEADS}{path}"
    response = getattr(client, method)(url, data, format="json")
    assert response.status_code == expected, response.content


@pytest.mark.parametrize(
    ("username", "visible"),
    [
        ("alice", {"alice"}),
        ("bob", {"bob"}),
        ("carol", {"carol"}),
        ("connie", {"connie"}),
        ("dave", {"dave"}),
        ("sue", {"alice", "bob"}),
        ("mike", {"alice", "bob", "carol", "connie", "unassigned"}),
        ("mary", {"dave"}),
        ("root", {"alice", "bob", "carol", "connie", "dave", "unassigned"}),
    ],
)
def test_lists_are_filtered_by_scope(api, everyone, leads, username, visible):
    response = api(everyone[username]).get(LEADS, {"page_size": 100})
    assert response.status_code == 200
    assert {row["id"] for row in response.json()["results"]} == {leads[name].pk for name in visible}


def test_bulk_assign_ignores_leads_outside_scope(api, everyone, leads):
    """A manager naming another store's lead gets it back as skipped, untouched."""
    response = api(everyone["mike"]).post(
        f"{LEADS}bulk-assign/",
        {"leads": [leads["dave"].pk], "owners": [everyone["alice"].pk], "reason": "x"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["assigned"] == {}
    assert [row["lead"] for row in response.json()["skipped"]] == [leads["dave"].pk]
    leads["dave"].refresh_from_db()
    assert leads["dave"].owner == everyone["dave"]


def test_duplicate_entry_names_the_owner_across_scopes(api, everyone, leads):
    """First entry wins (DESIGN §2): bob learns that alice has the customer,
    even though he cannot open her lead."""
    response = api(everyone["bob"]).post(
        LEADS,
        {"name": "王小明", "phone": leads["alice"].phone, "source": "inbound"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["owner"] == everyone["alice"].pk
    assert api(everyone["bob"]).get(f"{LEADS}{leads['alice'].pk}/").status_code == 404
