"""Nobody grants a role or a reach above their own (dcc.policy.require_staff_grant).

A matrix through the API: every role creates staff of every role in its own
store and in no store, changes another's role and store, and tries to change
its own. Whatever happens, the only superusers are ``root`` and a group
administrator that a group administrator created.
"""

import pytest

from dcc.models import User
from dcc.policy import MANAGER_ASSIGNABLE_ROLES
from dcc.roles import Role
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

ACTORS = ["agent", "caller", "consultant", "supervisor", "manager", "store_admin", "group_admin"]
ROLES = [role.value for role in Role]
NO_STAFF_RIGHTS = {"agent", "caller", "consultant", "supervisor"}


@pytest.fixture
def actors(alice, carol, connie, sue, mike, store_a, root):
    sam = StaffFactory(username="sam", role=Role.ADMIN, store=store_a)
    return {
        "agent": alice,
        "caller": carol,
        "consultant": connie,
        "supervisor": sue,
        "manager": mike,
        "store_admin": sam,
        "group_admin": root,
    }


def _superusers():
    return set(User.objects.filter(is_superuser=True).values_list("username", flat=True))


def _expected_create(actor, role, in_store):
    if actor in NO_STAFF_RIGHTS:
        return 403
    if actor == "group_admin":
        # Only an administrator works without a store: the model says 400.
        return 201 if in_store or role == Role.ADMIN else 400
    if not in_store:
        return 403  # no store is a group-wide reach
    if actor == "manager":
        return 201 if role in MANAGER_ASSIGNABLE_ROLES else 403
    return 201  # a store administrator: any role of its own store


@pytest.mark.parametrize("in_store", [True, False], ids=["own-store", "no-store"])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("actor", ACTORS)
def test_create_staff(api, actors, store_a, team_a1, actor, role, in_store):
    body = {
        "username": "newbie",
        "password": "a-long-pass-phrase",
        "role": role,
        "store": store_a.pk if in_store else None,
        "team": team_a1.pk if in_store else None,
    }
    response = api(actors[actor]).post("/api/v1/staff/", body, format="json")
    assert response.status_code == _expected_create(actor, role, in_store), response.content
    group_admin_made = actor == "group_admin" and role == Role.ADMIN and not in_store
    assert _superusers() == ({"root", "newbie"} if group_admin_made else {"root"})


# Changes to ``bob``, an agent of store A in team A1.
OTHER_CHANGES = {**{f"role={role}": {"role": role} for role in ROLES}}
OTHER_CHANGES["store=none"] = {"store": None}
OTHER_CHANGES["group-admin"] = {"role": "admin", "store": None}


def _expected_update_other(actor, change):
    if actor in NO_STAFF_RIGHTS:
        return 403
    to_no_store = "store" in change
    if actor == "group_admin":
        return 200 if change.get("role", "agent") == Role.ADMIN or not to_no_store else 400
    if to_no_store:
        return 403
    if actor == "manager":
        return 200 if change["role"] in MANAGER_ASSIGNABLE_ROLES else 403
    return 200


@pytest.mark.parametrize("change", OTHER_CHANGES)
@pytest.mark.parametrize("actor", ACTORS)
def test_update_another(api, actors, bob, actor, change):
    body = OTHER_CHANGES[change]
    response = api(actors[actor]).patch(f"/api/v1/staff/{bob.pk}/", body, format="json")
    expected = _expected_update_other(actor, body)
    assert response.status_code == expected, response.content
    bob.refresh_from_db()
    if expected != 200:
        assert (bob.role, bob.store_id) == (Role.AGENT, actors["agent"].store_id)
    made_group_admin = actor == "group_admin" and change == "group-admin"
    assert _superusers() == ({"root", "bob"} if made_group_admin else {"root"})


OWN_CHANGES = {f"role={role}": {"role": role} for role in ROLES}
OWN_CHANGES["store"] = {"store": "elsewhere"}


# Each actor's own role (the ``actors`` fixture): setting it again is no change.
ROLE_OF = {
    "agent": Role.AGENT,
    "caller": Role.CALLER,
    "consultant": Role.CONSULTANT,
    "supervisor": Role.SUPERVISOR,
    "manager": Role.MANAGER,
    "store_admin": Role.ADMIN,
    "group_admin": Role.ADMIN,
}


@pytest.mark.parametrize(
    ("actor", "change"),
    [
        (actor, change)
        for actor in ACTORS
        for change, body in OWN_CHANGES.items()
        if body.get("role") != ROLE_OF[actor]
    ],
)
def test_nobody_changes_their_own_role_or_store(api, actors, store_a, actor, change):
    me = actors[actor]
    assert me.role == ROLE_OF[actor]
    body = dict(OWN_CHANGES[change])
    if "store" in body:
        # Out of a store for the store-bound, into one for the group administrator.
        body["store"] = None if me.store_id else store_a.pk
    before = (me.role, me.store_id, me.is_superuser)
    response = api(me).patch(f"/api/v1/staff/{me.pk}/", body, format="json")
    assert response.status_code == 403, response.content
    me.refresh_from_db()
    assert (me.role, me.store_id, me.is_superuser) == before
    assert _superusers() == {"root"}


def test_own_name_is_still_editable(api, actors):
    sam = actors["store_admin"]
    response = api(sam).patch(f"/api/v1/staff/{sam.pk}/", {"name": "萨姆"}, format="json")
    assert response.status_code == 200, response.content


def test_manager_cannot_edit_a_store_admin(api, actors):
    sam = actors["store_admin"]
    response = api(actors["manager"]).patch(
        f"/api/v1/staff/{sam.pk}/", {"name": "x"}, format="json"
    )
    assert response.status_code == 403


def test_store_admin_cannot_reach_a_group_admin_or_another_store(api, actors, dave):
    sam = actors["store_admin"]
    for target in (actors["group_admin"], dave):
        response = api(sam).patch(f"/api/v1/staff/{target.pk}/", {"name": "x"}, format="json")
        assert response.status_code == 404


def test_store_admin_cannot_move_staff_to_another_store(api, actors, bob, store_b):
    response = api(actors["store_admin"]).patch(
        f"/api/v1/staff/{bob.pk}/", {"store": store_b.pk, "team": None}, format="json"
    )
    assert response.status_code == 400  # store B is not one it can name
    bob.refresh_from_db()
    assert bob.store_id == actors["agent"].store_id
