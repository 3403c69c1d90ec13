"""Inbound lead connectors: signed pushes (generic JSON and Ocean Engine's
clue push), idempotency by the sender's lead id, the first-entry rule, and
the connector set-up API."""

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connections

from dcc.models import AuditEvent
from leads import connectors
from leads.models import (
    Channel,
    ConnectorKind,
    ConnectorLead,
    ConnectorPush,
    Lead,
    LeadConnector,
    PushOutcome,
    Source,
    ValueAlias,
    ValueKind,
)

FIXTURE = Path(__file__).parent / "fixtures" / "ocean_engine_clue.json"
URL = "/api/v1/leads/inbound/{code}/"


@pytest.fixture
def autohome(db):
    """Seeded by a migration; a transactional test before may have flushed it."""
    return Channel.objects.get_or_create(code="autohome", defaults={"label": "汽车之家"})[0]


@pytest.fixture(autouse=True)
def _lists(db, envision, autohome):
    """The vehicle model and channel the pushes name."""


@pytest.fixture
def generic(mike, store_a):
    return connectors.connector_create(
        actor=mike, store=store_a, name="汽车之家推送", code="autohome-push"
    )


@pytest.fixture
def ocean(mike, store_a):
    return connectors.connector_create(
        actor=mike,
        store=store_a,
        name="巨量引擎",
        code="ocean",
        kind=ConnectorKind.OCEAN_ENGINE,
    )


def push(client, connector, payload, *, secret=None, timestamp=None, body=None):
    body = body if body is not None else json.dumps(payload, ensure_ascii=False).encode()
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = connectors.sign(secret or connector.secret, timestamp, body)
    return client.post(
        URL.format(code=connector.code),
        data=body,
        content_type="application/json",
        HTTP_X_DCC_TIMESTAMP=timestamp,
        HTTP_X_DCC_SIGNATURE=signature,
    )


def generic_lead(**fields):
    return {
        "external_id": "AH-1001",
        "name": "李雷",
        "phone": "13800138000",
        "source": "web",
        "channel": "autohome",
        "intended_model": "昂科威",
        "level": "A",
        "note": "想看白色",
        **fields,
    }


def test_generic_push_creates_an_unowned_lead_once(client, generic, envision, autohome):
    first = push(client, generic, generic_lead())
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["created"] is True
    assert body["owner"] is None
    lead = Lead.objects.get(pk=body["id"])
    assert (lead.phone, lead.level, lead.channel, lead.intended_model) == (
        "+8613800138000",
        "A",
        autohome,
        envision,
    )
    assert lead.source == Source.WEB
    assert lead.store_id == generic.store_id

    again = push(client, generic, generic_lead(name="李雷（重发）"))
    assert again.status_code == 200
    assert again.json() == {"id": lead.pk, "owner": None, "created": False}
    assert Lead.objects.count() == 1
    outcomes = list(
        ConnectorPush.objects.filter(connector=generic).values_list("outcome", flat=True)
    )
    assert sorted(outcomes) == [PushOutcome.CREATED, PushOutcome.REPEATED]


def test_ocean_engine_clue_push_in_its_documented_shape(client, ocean, envision, autohome):
    # The store says which of its channels Ocean Engine's traffic source is.
    ValueAlias.objects.create(kind=ValueKind.CHANNEL, alias="抖音", channel=autohome)
    payload = json.loads(FIXTURE.read_text())
    response = push(client, ocean, payload)
    assert response.status_code == 201, response.content
    lead = Lead.objects.get(pk=response.json()["id"])
    assert lead.customer.name == "陈建国"
    assert lead.phone == "+8613912345678"
    assert lead.intended_model == envision  # from remark_dict's 意向车型
    assert lead.channel == autohome  # app_name through the channel alias
    assert lead.owner is None  # no owner from the sender: distribution decides
    assert "周末方便看车" in lead.note
    assert "20-25万" in lead.note
    assert lead.received_at.astimezone().strftime("%Y-%m-%d %H:%M") == "2026-12-07 10:21"
    assert ConnectorLead.objects.get(connector=ocean).external_id == "7301928374650192837"
    # A field the documented clue object does not have is refused, not dropped.
    payload["surprise"] = "x"
    payload["clue_id"] = "another"
    refused = push(client, ocean, payload)
    assert refused.status_code == 400
    assert "surprise" in refused.json()


def test_bad_signature_wrong_secret_and_unknown_connector_are_401(client, generic):
    body = json.dumps(generic_lead()).encode()
    assert push(client, generic, None, body=body, secret="not-the-secret").status_code == 401
    tampered = client.post(
        URL.format(code=generic.code),
        data=body + b" ",
        content_type="application/json",
        HTTP_X_DCC_TIMESTAMP=str(int(time.time())),
        HTTP_X_DCC_SIGNATURE=connectors.sign(generic.secret, str(int(time.time())), body),
    )
    assert tampered.status_code == 401
    missing = client.post(URL.format(code=generic.code), data=body, content_type="application/json")
    assert missing.status_code == 401
    unknown = client.post(
        URL.format(code="no-such"),
        data=body,
        content_type="application/json",
        HTTP_X_DCC_TIMESTAMP="1",
        HTTP_X_DCC_SIGNATURE="00",
    )
    # The same answer as a bad signature: codes are not revealed.
    assert unknown.status_code == 401
    assert unknown.json() == missing.json()
    assert Lead.objects.count() == 0
    assert set(ConnectorPush.objects.values_list("outcome", flat=True)) == {
        PushOutcome.BAD_SIGNATURE
    }


def test_stale_and_future_timestamps_are_refused(client, generic):
    window = generic.replay_window
    stale = push(client, generic, generic_lead(), timestamp=int(time.time()) - window - 5)
    future = push(client, generic, generic_lead(), timestamp=int(time.time()) + window + 5)
    assert (stale.status_code, future.status_code) == (401, 401)
    assert Lead.objects.count() == 0
    assert ConnectorPush.objects.filter(outcome=PushOutcome.STALE).count() == 2
    # Inside the window it is accepted.
    ok = push(client, generic, generic_lead(), timestamp=int(time.time()) - window + 30)
    assert ok.status_code == 201


def test_regenerated_secret_replaces_the_old_one(client, generic, mike):
    old = generic.secret
    connectors.connector_regenerate_secret(actor=mike, connector=generic)
    generic.refresh_from_db()
    assert generic.secret != old
    assert push(client, generic, generic_lead(), secret=old).status_code == 401
    assert push(client, generic, generic_lead()).status_code == 201


def test_phone_already_open_is_409_and_the_attempt_recorded(client, generic, alice, make_lead):
    existing = make_lead(alice, phone="13800138000")
    response = push(client, generic, generic_lead())
    assert response.status_code == 409
    assert response.json()["existing_lead"] == existing.pk
    assert response.json()["owner"] == alice.pk
    assert Lead.objects.count() == 1
    assert AuditEvent.objects.filter(name="leads.lead.duplicate_entry").count() == 1
    # The claim is released: a retry is judged again, not answered as repeated.
    assert not ConnectorLead.objects.exists()
    assert push(client, generic, generic_lead()).status_code == 409


def test_invalid_fields_answer_400_per_field_and_create_nothing(client, generic):
    response = push(client, generic, generic_lead(phone="12", level="Z", external_id="X-1"))
    assert response.status_code == 400
    assert set(response.json()) >= {"phone", "level"}
    assert not Lead.objects.exists()
    assert not ConnectorLead.objects.exists()
    missing_id = push(
        client, generic, {k: v for k, v in generic_lead().items() if k != "external_id"}
    )
    assert missing_id.status_code == 400
    assert "external_id" in missing_id.json()


def test_connector_api_create_shows_secret_once_and_respects_roles(api, mike, mary, alice, store_a):
    payload = {"name": "易车", "code": "yiche", "store": store_a.pk, "kind": "generic"}
    created = api(mike).post("/api/v1/lead-connectors/", payload, format="json")
    assert created.status_code == 201, created.content
    assert len(created.json()["secret"]) == 64
    assert created.json()["code"] == "yiche"
    listed = api(mike).get("/api/v1/lead-connectors/").json()
    assert "secret" not in json.dumps(listed)
    detail = api(mike).get(f"/api/v1/lead-connectors/{created.json()['id']}/")
    assert detail.status_code == 200
    assert "secret" not in detail.json()
    # Another store's manager: the store is not theirs (400), the connector hidden (404).
    other = api(mary).post("/api/v1/lead-connectors/", {**payload, "code": "x2"}, format="json")
    assert other.status_code == 400
    assert api(mary).get(f"/api/v1/lead-connectors/{created.json()['id']}/").status_code == 404
    # An agent may not set one up.
    assert (
        api(alice).post("/api/v1/lead-connectors/", {**payload, "code": "x3"}, format="json")
    ).status_code == 403
    assert LeadConnector.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_retries_of_one_pushed_lead_make_one_lead(generic, envision):
    from django.test import Client

    body = json.dumps(generic_lead(), ensure_ascii=False).encode()
    timestamp = str(int(time.time()))
    signature = connectors.sign(generic.secret, timestamp, body)

    def send(_):
        try:
            response = Client().post(
                URL.format(code=generic.code),
                data=body,
                content_type="application/json",
                HTTP_X_DCC_TIMESTAMP=timestamp,
                HTTP_X_DCC_SIGNATURE=signature,
            )
            return response.status_code, response.json()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(send, range(20)))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * 19 + [201], answers
    assert Lead.objects.count() == 1
    lead = Lead.objects.get()
    assert {data["id"] for _, data in answers} == {lead.pk}
    assert ConnectorLead.objects.get().lead_id == lead.pk


def test_creator_gone_answers_503_until_a_manager_takes_it_over(client, generic, mike, root):
    mike.is_active = False
    mike.save()
    response = push(client, generic, generic_lead())
    assert response.status_code == 503
    assert not Lead.objects.exists()
    assert not ConnectorLead.objects.exists()
    connectors.connector_regenerate_secret(actor=root, connector=generic)
    generic.refresh_from_db()
    assert generic.created_by == root
    created = push(client, generic, generic_lead())
    assert created.status_code == 201
    assert Lead.objects.get().created_by == root
