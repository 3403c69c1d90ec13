import pytest

pytestmark = pytest.mark.django_db


def test_token_for_good_credentials(api, alice):
    response = api().post(
        "/api/v1/auth/token/", {"username": "alice", "password": "correct-horse-battery"}
    )
    assert response.status_code == 200
    assert len(response.json()["token"]) == 40


def test_bad_credentials_are_400(api, alice):
    response = api().post("/api/v1/auth/token/", {"username": "alice", "password": "nope"})
    assert response.status_code == 400


def test_token_authenticates_calls(api, alice):
    token = (
        api()
        .post("/api/v1/auth/token/", {"username": "alice", "password": "correct-horse-battery"})
        .json()["token"]
    )
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/staff/").status_code == 200


@pytest.mark.parametrize("url", ["/api/v1/stores/", "/api/v1/staff/", "/api/v1/vehicle-models/"])
def test_unauthenticated_is_401(api, url):
    assert api().get(url).status_code == 401
    assert api().post(url, {}).status_code == 401


def test_inactive_user_token_is_refused(api, alice):
    client = api(alice)
    alice.is_active = False
    alice.save()
    assert client.get("/api/v1/staff/").status_code == 401


def test_schema_and_docs_are_served(api):
    schema = api().get("/api/v1/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/staff/" in schema.content
    docs = api().get("/api/v1/docs/")
    assert docs.status_code == 200
    # Swagger UI comes from our own static files, never a CDN.
    assert b"cdn" not in docs.content.lower()
