import pytest
from django.urls import reverse
from django.utils import translation

pytestmark = pytest.mark.django_db

HOME_TITLES = {
    "alice": "我的工作台",
    "carol": "我的工作台",
    "connie": "我的工作台",
    "sue": "我的团队",
    "mike": "门店概况",
    "root": "系统",
}


def test_anonymous_is_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_login_page_speaks_chinese_by_default(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'lang="zh-hans"' in html
    assert "登录" in html


def test_browser_language_does_not_override_chinese(client, db):
    html = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert 'lang="zh-hans"' in html


def test_language_switch_to_english(client):
    response = client.post(reverse("set_language"), {"language": "en", "next": "/accounts/login/"})
    assert response.status_code == 302
    html = client.get(reverse("login")).content.decode()
    assert 'lang="en"' in html
    assert "Sign in" in html


def test_login_with_password_lands_on_home(client, alice):
    response = client.post(
        reverse("login"), {"username": "alice", "password": "correct-horse-battery"}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/"
    assert "我的工作台" in response.content.decode()


def test_login_form_is_csrf_protected(alice):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post(reverse("login"), {"username": "alice", "password": "x"})
    assert response.status_code == 403


@pytest.mark.parametrize(("username", "title"), HOME_TITLES.items())
def test_each_role_has_its_home(everyone, web, username, title):
    response = web(everyone[username]).get("/")
    assert response.status_code == 200
    assert title in response.content.decode()


def test_navigation_by_role(everyone, web):
    agent_html = web(everyone["alice"]).get("/").content.decode()
    assert reverse("directory") not in agent_html
    assert "/admin/" not in agent_html
    manager_html = web(everyone["mike"]).get("/").content.decode()
    assert reverse("directory") in manager_html
    assert "/admin/" not in manager_html
    admin_html = web(everyone["root"]).get("/").content.decode()
    assert "/admin/" in admin_html


def test_agent_cannot_open_directory(everyone, web):
    assert web(everyone["alice"]).get(reverse("directory")).status_code == 403


def test_manager_home_shows_only_own_store(everyone, web):
    html = web(everyone["mike"]).get("/").content.decode()
    assert "浦东店" in html
    assert "苏州店" not in html
    assert everyone["dave"].name not in html


def test_directory_query_count_is_bounded(everyone, web, django_assert_max_num_queries):
    from tests.factories import StaffFactory, TeamFactory

    client = web(everyone["mike"])
    for i in range(5):
        team = TeamFactory(store=everyone["mike"].store, name=f"扩展组{i}")
        StaffFactory.create_batch(4, store=team.store, team=team)
    # session + user + teams + prefetched members + unassigned staff + the
    # layout's two badge counts
    with django_assert_max_num_queries(8):
        response = client.get(reverse("directory"))
    assert response.status_code == 200


def test_admin_site_only_for_group_admins(everyone, web, store_a):
    from dcc.roles import Role
    from tests.factories import StaffFactory

    assert web(everyone["root"]).get("/admin/").status_code == 200
    store_admin = StaffFactory(role=Role.ADMIN, store=store_a, is_staff=True)
    response = web(store_admin).get("/admin/")
    assert response.status_code == 302  # to the admin login: not allowed in


def test_healthz_is_public(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_static_assets_are_vendored(client, db):
    # whitenoise serves them from our tree; nothing is fetched from a CDN
    html = client.get(reverse("login")).content.decode()
    assert "cdn" not in html.lower()
    response = client.get("/static/vendor/htmx/htmx.min.js")
    assert response.status_code == 200
    assert b"htmx" in b"".join(response.streaming_content)
    response.close()


def test_one_navigation_entry_is_active_the_most_specific(mike):
    from dcc.navigation import items_for

    def active(path):
        found = []
        for item in items_for(mike, path):
            if item["active"]:
                found.append(item.get("url") or str(item["label"]))
            found += [child["url"] for child in item.get("children", ()) if child["active"]]
        return found

    with translation.override("en"):
        # The dashboard, and the menu it sits in; not the KPIs at /kpi/.
        assert active("/kpi/dashboard/") == ["Performance", reverse("kpi:dashboard")]
        assert active("/kpi/exports/") == ["Performance", reverse("kpi:exports")]
        assert active("/kpi/targets/") == ["Performance", reverse("kpi:index")]
        assert active("/") == ["/"]
        assert active("/leads/12/") == [reverse("leads:list")]


def test_the_bar_groups_entries_in_menus_and_flattens_a_menu_of_one(mike, alice, connie):
    from dcc.navigation import items_for

    def bar(user):
        return {
            str(item["label"]): [str(child["label"]) for child in item.get("children", ())]
            for item in items_for(user, "/")
        }

    with translation.override("en"):
        manager = bar(mike)
        assert {name for name, children in manager.items() if children} == {
            "Performance",
            "Call quality",
            "Manage",
        }
        assert len(manager) <= 10
        assert "Workbooks" in manager["Performance"]
        # An agent's call-quality menu would hold their reviews alone, a
        # consultant's performance menu the KPIs alone: entries, not menus.
        agent = bar(alice)
        assert agent["My reviews"] == []
        assert "Call quality" not in agent
        assert bar(connie)["KPIs"] == []
