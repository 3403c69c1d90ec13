"""Signing in under attack: django-axes' lockout on the login page and the
token endpoint, the token endpoint's throttle, failed sign-ins logged, idle
API tokens refused, password rules on the API, the idle session timeout."""

import logging
from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone
from rest_framework.authtoken.models import Token

from dcc.middleware import SESSION_TOUCHED
from dcc.models import TokenUse
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
TOKEN = "/api/v1/auth/token/"
LIMIT = settings.AXES_FAILURE_LIMIT


def _page_login(client, username, password):
    return client.post(LOGIN, {"username": username, "password": password})


def _token(api, username, password):
    return api().post(TOKEN, {"username": username, "password": password})


def _cool_off_passes():
    AccessAttempt.objects.update(
        attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(minutes=1)
    )


def test_axes_is_on_with_the_configured_limits():
    assert settings.AXES_ENABLED is not False
    assert LIMIT == 10
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60
    assert settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"


def test_login_page_locks_out_after_the_limit_then_recovers(client, alice, bob):
    for _ in range(LIMIT - 1):
        assert _page_login(client, "alice", "wrong").status_code == 200  # the form again
    locked = _page_login(client, "alice", "wrong")
    assert locked.status_code == 429
    assert "Retry-After" in locked
    # Now even the right password is refused, for that username from that address…
    assert _page_login(client, "alice", PASSWORD).status_code == 429
    assert AccessFailureLog.objects.filter(username="alice").count() >= LIMIT
    # …while another username from the same address still signs in.
    assert _page_login(client, "bob", PASSWORD).status_code == 302
    client.logout()
    _cool_off_passes()
    assert _page_login(client, "alice", PASSWORD).status_code == 302


def test_token_endpoint_locks_out_after_the_limit_then_recovers(api, alice):
    for _ in range(LIMIT - 1):
        assert _token(api, "alice", "wrong").status_code == 400
    locked = _token(api, "alice", "wrong")
    assert locked.status_code == 429
    assert "detail" in locked.json()
    assert _token(api, "alice", PASSWORD).status_code == 429
    _cool_off_passes()
    assert _token(api, "alice", PASSWORD).status_code == 200


def test_a_token_issued_clears_the_failures(api, alice):
    for _ in range(LIMIT - 1):
        _token(api, "alice", "wrong")
    assert _token(api, "alice", PASSWORD).status_code == 200
    for _ in range(LIMIT - 1):
        assert _token(api, "alice", "wrong").status_code == 400


def test_failures_on_one_door_count_at_the_other(client, api, alice):
    for _ in range(LIMIT):
        _page_login(client, "alice", "wrong")
    assert _token(api, "alice", PASSWORD).status_code == 429


def test_failed_sign_ins_are_logged(client, api, alice, caplog):
    with caplog.at_level(logging.WARNING, logger="dcc.auth"):
        _page_login(client, "alice", "wrong")
        _token(api, "mallory", "guess")
    lines = [r.getMessage() for r in caplog.records if r.name == "dcc.auth"]
    assert any("'alice'" in line and LOGIN in line for line in lines), lines
    assert any("'mallory'" in line and TOKEN in line for line in lines), lines
    assert all(PASSWORD not in line and "guess" not in line for line in lines)


def test_token_endpoint_is_throttled(api, alice):
    rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["auth-token"]
    allowed = int(rate.split("/")[0])
    # A different username each time: the throttle, not the lockout, answers.
    for n in range(allowed):
        assert _token(api, f"guess{n}", "x").status_code == 400
    throttled = _token(api, "alice", PASSWORD)
    assert throttled.status_code == 429
    assert "Retry-After" in throttled


def test_api_has_anonymous_and_user_rates():
    rest = settings.REST_FRAMEWORK
    assert {"anon", "user", "auth-token"} <= set(rest["DEFAULT_THROTTLE_RATES"])
    assert len(rest["DEFAULT_THROTTLE_CLASSES"]) == 2


def _age_token(token, *, days):
    TokenUse.objects.update_or_create(
        token=token, defaults={"last_used_at": timezone.now() - timedelta(days=days)}
    )


def test_idle_token_is_refused_and_replaced(api, alice):
    client = api(alice)
    assert client.get("/api/v1/staff/").status_code == 200
    token = Token.objects.get(user=alice)
    _age_token(token, days=settings.API_TOKEN_IDLE_TIMEOUT.days + 1)
    assert client.get("/api/v1/staff/").status_code == 401
    fresh = _token(api, "alice", PASSWORD)
    assert fresh.status_code == 200
    assert fresh.json()["token"] != token.key
    client.credentials(HTTP_AUTHORIZATION=f"Token {fresh.json()['token']}")
    assert client.get("/api/v1/staff/").status_code == 200


def test_never_used_old_token_is_refused(api, alice):
    client = api(alice)
    Token.objects.filter(user=alice).update(created=timezone.now() - timedelta(days=31))
    assert client.get("/api/v1/staff/").status_code == 401


def test_token_in_use_lives_on_and_its_use_is_written_sparingly(api, alice):
    client = api(alice)
    token = Token.objects.get(user=alice)
    _age_token(token, days=settings.API_TOKEN_IDLE_TIMEOUT.days - 1)
    assert client.get("/api/v1/staff/").status_code == 200
    touched = TokenUse.objects.get(token=token).last_used_at
    assert timezone.now() - touched < timedelta(minutes=1)
    assert client.get("/api/v1/staff/").status_code == 200
    assert TokenUse.objects.get(token=token).last_used_at == touched  # not every call


@pytest.mark.parametrize("password", ["123", "password", "12345678901", "newbie2026"], ids=str)
def test_weak_password_is_400_on_the_password_field(api, root, store_a, password):
    body = {"username": "newbie", "password": password, "role": "agent", "store": store_a.pk}
    response = api(root).post("/api/v1/staff/", body)
    assert response.status_code == 400, response.content
    assert "password" in response.json()


def _session():
    return Session.objects.get()


def test_session_expires_after_the_idle_timeout(client, alice):
    assert settings.SESSION_COOKIE_AGE == 120 * 60
    assert _page_login(client, "alice", PASSWORD).status_code == 302
    assert client.cookies["sessionid"]["max-age"] == settings.SESSION_COOKIE_AGE
    # A request soon after signing in writes nothing…
    Session.objects.update(expire_date=timezone.now() + timedelta(minutes=100))
    assert client.get("/").status_code == 200
    assert _session().expire_date < timezone.now() + timedelta(minutes=101)
    # …one after the touch interval pushes the expiry a full age ahead…
    store = SessionStore(_session().session_key)
    store[SESSION_TOUCHED] -= settings.SESSION_TOUCH_INTERVAL + 1
    store.save()
    Session.objects.update(expire_date=timezone.now() + timedelta(minutes=5))
    assert client.get("/").status_code == 200
    assert _session().expire_date > timezone.now() + timedelta(minutes=119)
    assert client.cookies["sessionid"]["max-age"] == settings.SESSION_COOKIE_AGE
    # …and an idle one is over.
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
