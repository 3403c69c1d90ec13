"""Each role home page and the navigation bar."""

import pytest
from django.urls import reverse
from django.utils import translation

from followups import selectors
from tests.desk.helpers import log_contact

pytestmark = pytest.mark.django_db


HOME_TITLES = {
    "alice": "我的工作台",
    "carol": "我的工作台",
    "connie": "今明两天到店的客户",
    "sue": "我的团队",
    "mike": "门店概况",
    "root": "系统",
}


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


def test_manager_home_shows_only_own_store(everyone, web):
    html = web(everyone["mike"]).get("/").content.decode()
    assert "浦东店" in html
    assert "苏州店" not in html
    assert everyone["dave"].name not in html


def test_one_navigation_entry_is_active_the_most_specific(mike):
    from desk.navigation import items_for

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
    from desk.navigation import items_for

    def bar(user):
        return {
            str(item["label"]): [str(child["label"]) for child in item.get("children", ())]
            for item in items_for(user, "/")
        }

    with translation.override("en"):
        manager = bar(mike)
        assert {name for name, children in manager.items() if children} == {
            "Campaigns",  # issue 18: campaigns, events, owners, the opt-out list
            "Performance",
            "Call quality",
            "Manage",
        }
        assert len(manager) <= 10
        assert manager["Campaigns"] == ["Campaigns", "Events", "Owners", "Opt-out list"]
        # The pool: a manager redistributes it (Manage), an agent claims from it.
        assert "Pool" in manager["Manage"]
        assert "Pool" not in manager
        assert "Workbooks" in manager["Performance"]
        # An agent's call-quality menu would hold their reviews alone, a
        # consultant's performance menu the KPIs alone: entries, not menus.
        agent = bar(alice)
        assert agent["My reviews"] == []
        assert "Call quality" not in agent
        assert agent["Pool"] == []
        assert agent["Events"] == []  # a menu of one entry is that entry
        assert bar(connie)["KPIs"] == []


def test_team_health_counts_per_agent(web, sue, alice, bob, carol, queue, make_lead):
    log_contact(bob, make_lead(bob))
    html = web(sue).get("/").content.decode()
    assert 'data-testid="team-health"' in html
    health = selectors.team_health(user=sue)
    rows = {row["agent"].username: row for row in health["rows"]}
    assert rows["alice"]["overdue"] == 1
    assert rows["alice"]["new"] == 1
    assert rows["alice"]["due_today"] == 1
    assert rows["alice"]["appointments_tomorrow"] == 1
    assert rows["bob"]["logged_today"] == 1
    assert "carol" not in rows  # another team: a supervisor's table is the team's


def test_team_health_queries_do_not_grow_with_agents(
    web, mike, make_lead, alice, bob, django_assert_max_num_queries
):
    for agent in (alice, bob):
        for _ in range(5):
            log_contact(agent, make_lead(agent))
    client = web(mike)
    client.get("/")
    with django_assert_max_num_queries(30):
        assert client.get("/").status_code == 200
