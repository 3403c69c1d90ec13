import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


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


def test_agent_cannot_open_directory(everyone, web):
    assert web(everyone["alice"]).get(reverse("directory")).status_code == 403


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


def test_account_page_shows_who_is_signed_in(web, alice, django_assert_max_num_queries):
    client = web(alice)
    client.get(reverse("account"))
    # session and user, the store and team shown (the benchmarks' floor: tests/bench)
    with django_assert_max_num_queries(4):
        response = client.get(reverse("account"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="account"' in html
    assert alice.username in html
    assert str(alice.store) in html


def test_account_page_needs_a_login(client):
    response = client.get(reverse("account"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
