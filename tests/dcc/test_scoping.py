"""The one scoping mechanism, proved on the organisation's own rows and through
pages and the API. Later apps add their models to the same matrix style."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from dcc.api_base import ScopedViewSetMixin
from dcc.models import AuditEvent, Store, Team, User
from dcc.policy import Level, get_visible_or_404, scope_level
from dcc.roles import Role
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


def test_levels_follow_roles(everyone, store_a):
    store_admin = StaffFactory(role=Role.ADMIN, store=store_a)
    levels = {name: scope_level(user) for name, user in everyone.items()}
    assert levels == {
        "alice": Level.OWN,
        "bob": Level.OWN,
        "carol": Level.OWN,
        "connie": Level.OWN,
        "sue": Level.TEAM,
        "mike": Level.STORE,
        "mary": Level.STORE,
        "dave": Level.OWN,
        "root": Level.ALL,
    }
    assert scope_level(store_admin) is Level.STORE


def test_inactive_and_anonymous_see_nothing(everyone, store_a):
    from django.contrib.auth.models import AnonymousUser

    alice = everyone["alice"]
    alice.is_active = False
    assert not Store.objects.visible_to(alice).exists()
    assert not User.objects.visible_to(AnonymousUser()).exists()


@pytest.mark.parametrize(
    ("username", "stores", "teams"),
    [
        ("alice", {"A01"}, {"一组"}),
        ("sue", {"A01"}, {"一组"}),
        ("mike", {"A01"}, {"一组", "二组"}),
        ("mary", {"B01"}, {"苏州组"}),
        ("root", {"A01", "B01"}, {"一组", "二组", "苏州组"}),
    ],
)
def test_org_rows_by_role(everyone, username, stores, teams):
    user = everyone[username]
    assert {s.code for s in Store.objects.visible_to(user)} == stores
    assert {t.name for t in Team.objects.visible_to(user)} == teams


def test_manager_of_one_store_sees_nothing_of_another(everyone):
    mike = everyone["mike"]
    visible_staff = set(User.objects.visible_to(mike).values_list("username", flat=True))
    assert "dave" not in visible_staff
    assert "mary" not in visible_staff
    assert {"alice", "bob", "carol", "sue", "mike", "connie"} <= visible_staff


def test_getter_answers_404_for_missing_and_foreign_alike(everyone, team_b1):
    from django.http import Http404

    with pytest.raises(Http404):
        get_visible_or_404(Team, everyone["mike"], pk=team_b1.pk)
    with pytest.raises(Http404):
        get_visible_or_404(Team, everyone["mike"], pk=987654)
    assert get_visible_or_404(Team, everyone["mary"], pk=team_b1.pk) == team_b1


def test_audit_events_follow_actor_scope(everyone, store_a):
    from dcc import audit

    audit.record("test.thing", actor=everyone["alice"], store=store_a)
    audit.record("test.thing", actor=everyone["carol"], store=store_a)
    assert AuditEvent.objects.visible_to(everyone["alice"]).count() == 1
    assert AuditEvent.objects.visible_to(everyone["sue"]).count() == 1  # alice is in sue's team
    assert AuditEvent.objects.visible_to(everyone["mike"]).count() == 2
    assert AuditEvent.objects.visible_to(everyone["mary"]).count() == 0


# ---------------------------------------------------------------- pages and API


@pytest.mark.parametrize(
    ("username", "team_fixture", "expected"),
    [
        ("mike", "team_a2", 200),
        ("mike", "team_b1", 404),
        ("mary", "team_a1", 404),
        ("sue", "team_a1", 200),
        ("sue", "team_a2", 404),  # another team of her own store
        ("root", "team_b1", 200),
    ],
)
def test_team_page_404_outside_scope(everyone, web, request, username, team_fixture, expected):
    team = request.getfixturevalue(team_fixture)
    response = web(everyone[username]).get(f"/org/teams/{team.pk}/")
    assert response.status_code == expected


@pytest.mark.parametrize(
    ("username", "url_name", "fixture", "expected"),
    [
        ("mike", "teams", "team_b1", 404),
        ("mike", "teams", "team_a1", 200),
        ("mike", "stores", "store_b", 404),
        ("mike", "staff", "dave", 404),
        ("mary", "staff", "alice", 404),
        ("alice", "teams", "team_a1", 200),  # an agent sees the own team
        ("alice", "teams", "team_a2", 404),
        ("alice", "staff", "bob", 200),  # the store directory
        ("root", "staff", "dave", 200),
    ],
)
def test_api_detail_404_outside_scope(
    everyone, api, request, username, url_name, fixture, expected
):
    obj = request.getfixturevalue(fixture)
    response = api(everyone[username]).get(f"/api/v1/{url_name}/{obj.pk}/")
    assert response.status_code == expected


def test_api_lists_are_filtered(everyone, api):
    response = api(everyone["mike"]).get("/api/v1/staff/?page_size=200")
    usernames = {row["username"] for row in response.json()["results"]}
    assert usernames == {"alice", "bob", "carol", "sue", "mike", "connie"}
    response = api(everyone["mike"]).get("/api/v1/stores/")
    assert [row["code"] for row in response.json()["results"]] == ["A01"]


def _api_views():
    def walk(patterns):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns)
            elif isinstance(p, URLPattern):
                yield p

    for pattern in walk(get_resolver().url_patterns):
        cls = getattr(pattern.callback, "cls", None)
        if cls is not None and getattr(cls, "queryset", None) is not None:
            yield pattern.name, cls


def test_every_api_view_with_a_queryset_is_scoped():
    views = list(_api_views())
    assert views, "no API views found"
    unscoped = [name for name, cls in views if not issubclass(cls, ScopedViewSetMixin)]
    assert unscoped == []
