"""API.md "Organisation": admin everywhere, a manager within the store."""

import pytest

from dcc.models import AuditEvent, Store, User
from leads.models import VehicleModel

pytestmark = pytest.mark.django_db


def test_admin_creates_a_store(api, root):
    response = api(root).post("/api/v1/stores/", {"name": "杭州店", "code": "HZ01"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["code"] == "HZ01"
    store = Store.objects.get(pk=body["id"])
    assert store.history.first().history_user == root
    assert AuditEvent.objects.filter(name="dcc.store.created", target_id=store.pk).exists()


@pytest.mark.parametrize("username", ["mike", "sue", "alice", "connie"])
def test_only_admins_create_stores(api, everyone, username):
    response = api(everyone[username]).post("/api/v1/stores/", {"name": "X", "code": "X1"})
    assert response.status_code == 403


def test_duplicate_store_code_is_400(api, root, store_a):
    response = api(root).post("/api/v1/stores/", {"name": "again", "code": store_a.code})
    assert response.status_code == 400
    assert "code" in response.json()


def test_manager_creates_team_in_own_store(api, mike, store_a):
    response = api(mike).post("/api/v1/teams/", {"name": "三组", "store": store_a.pk})
    assert response.status_code == 201, response.content
    assert response.json()["store"] == store_a.pk


def test_manager_cannot_name_another_store(api, mike, store_b):
    response = api(mike).post("/api/v1/teams/", {"name": "三组", "store": store_b.pk})
    assert response.status_code == 400
    assert "store" in response.json()


def test_team_names_are_unique_per_store(api, mike, store_a, team_a1):
    response = api(mike).post("/api/v1/teams/", {"name": team_a1.name, "store": store_a.pk})
    assert response.status_code == 400


def _staff(**overrides):
    body = {
        "username": "newbie",
        "password": "a-long-pass-phrase",
        "name": "新人",
        "role": "agent",
        "extension": "8009",
    }
    body.update(overrides)
    return body


def test_admin_creates_staff_of_every_role(api, root, store_a, team_a1):
    for role in ["agent", "caller", "supervisor", "manager", "consultant"]:
        body = _staff(
            username=f"u_{role}", role=role, store=store_a.pk, team=team_a1.pk, extension=""
        )
        response = api(root).post("/api/v1/staff/", body)
        assert response.status_code == 201, (role, response.content)
        data = response.json()
        assert data["role"] == role
        assert "password" not in data
    group_admin = api(root).post("/api/v1/staff/", _staff(username="ga", role="admin"))
    assert group_admin.status_code == 201, group_admin.content
    created = User.objects.get(username="ga")
    assert created.sees_all_stores
    assert created.is_staff


def test_created_staff_can_log_in(api, root, store_a):
    api(root).post("/api/v1/staff/", _staff(store=store_a.pk))
    response = api().post(
        "/api/v1/auth/token/", {"username": "newbie", "password": "a-long-pass-phrase"}
    )
    assert response.status_code == 200


def test_manager_creates_staff_in_own_store_only(api, mike, store_a, store_b, team_a1):
    ok = api(mike).post("/api/v1/staff/", _staff(store=store_a.pk, team=team_a1.pk))
    assert ok.status_code == 201, ok.content
    foreign = api(mike).post("/api/v1/staff/", _staff(username="x2", store=store_b.pk))
    assert foreign.status_code == 400
    assert "store" in foreign.json()


@pytest.mark.parametrize("role", ["admin", "manager"])
def test_manager_cannot_create_managers_or_admins(api, mike, store_a, role):
    response = api(mike).post("/api/v1/staff/", _staff(role=role, store=store_a.pk))
    assert response.status_code == 403


@pytest.mark.parametrize("username", ["alice", "sue", "connie"])
def test_other_roles_cannot_create_staff(api, everyone, username, store_a):
    response = api(everyone[username]).post("/api/v1/staff/", _staff(store=store_a.pk))
    assert response.status_code == 403


def test_staff_validation_messages_per_field(api, root, store_a, team_b1):
    response = api(root).post(
        "/api/v1/staff/", _staff(role="wizard", store=store_a.pk, team=team_b1.pk)
    )
    assert response.status_code == 400
    assert "role" in response.json()
    wrong_team = api(root).post("/api/v1/staff/", _staff(store=store_a.pk, team=team_b1.pk))
    assert wrong_team.status_code == 400
    assert "team" in wrong_team.json()
    storeless = api(root).post("/api/v1/staff/", _staff(role="agent"))
    assert storeless.status_code == 400
    assert "store" in storeless.json()


def test_extension_unique_among_active_staff_of_a_store(api, root, alice, store_a, store_b):
    same = api(root).post("/api/v1/staff/", _staff(store=store_a.pk, extension=alice.extension))
    assert same.status_code == 400
    other_store = api(root).post(
        "/api/v1/staff/", _staff(store=store_b.pk, extension=alice.extension)
    )
    assert other_store.status_code == 201


def test_manager_updates_staff_and_history_says_who(api, mike, alice, team_a2):
    response = api(mike).patch(f"/api/v1/staff/{alice.pk}/", {"team": team_a2.pk}, format="json")
    assert response.status_code == 200, response.content
    alice.refresh_from_db()
    assert alice.team == team_a2
    assert alice.history.first().history_user == mike


def test_manager_cannot_promote_to_manager(api, mike, alice):
    response = api(mike).patch(f"/api/v1/staff/{alice.pk}/", {"role": "manager"}, format="json")
    assert response.status_code == 403


def test_vehicle_models(api, mike, alice):
    response = api(mike).post("/api/v1/vehicle-models/", {"name": "昂科威", "category": "SUV"})
    assert response.status_code == 201, response.content
    assert VehicleModel.objects.get(pk=response.json()["id"]).category == "SUV"
    assert (
        api(alice).post("/api/v1/vehicle-models/", {"name": "GL8", "category": "MPV"}).status_code
        == 403
    )
    listed = api(alice).get("/api/v1/vehicle-models/").json()["results"]
    assert [row["name"] for row in listed] == ["昂科威"]


def test_django_superuser_acts_as_admin(api, db, store_a):
    superuser = User.objects.create_superuser("boss", password="pw-for-boss-123")
    response = api(superuser).post("/api/v1/teams/", {"name": "总部组", "store": store_a.pk})
    assert response.status_code == 201
