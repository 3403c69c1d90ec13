"""The connector pages: a manager creates one and sees its secret once,
recent pushes with their results; others are kept out."""

import json
import time

from django.urls import reverse

from leads import connectors
from leads.models import LeadConnector


def test_create_shows_the_secret_once_then_pushes(
    web, mike, store_a, client, envision, django_assert_max_num_queries
):
    page = web(mike)
    response = page.post(
        reverse("leads:connectors"),
        {"name": "懂车帝", "code": "dcd", "store": store_a.pk, "kind": "generic"},
    )
    connector = LeadConnector.objects.get(code="dcd")
    assert response.status_code == 302
    first = page.get(reverse("leads:connector", args=[connector.pk])).content.decode()
    assert connector.secret in first
    assert 'data-testid="connector-secret"' in first
    second = page.get(reverse("leads:connector", args=[connector.pk])).content.decode()
    assert connector.secret not in second
    # A push shows on the page with its result.
    body = json.dumps(
        {"external_id": "D-1", "name": "赵敏", "phone": "13812345678", "intended_model": "昂科威"}
    ).encode()
    stamp = str(int(time.time()))
    client.logout()
    client.post(
        "/api/v1/leads/inbound/dcd/",
        data=body,
        content_type="application/json",
        HTTP_X_DCC_TIMESTAMP=stamp,
        HTTP_X_DCC_SIGNATURE=connectors.sign(connector.secret, stamp, body),
    )
    page = web(mike)
    with django_assert_max_num_queries(12):
        shown = page.get(reverse("leads:connector", args=[connector.pk])).content.decode()
    assert shown.count('data-testid="connector-push"') == 1
    assert "D-1" in shown
    # A new secret is shown once too.
    page.post(reverse("leads:connector-regenerate", args=[connector.pk]))
    connector.refresh_from_db()
    assert (
        connector.secret
        in page.get(reverse("leads:connector", args=[connector.pk])).content.decode()
    )


def test_others_are_kept_out(web, mike, mary, alice, store_a):
    connector = connectors.connector_create(actor=mike, store=store_a, name="易车", code="yc")
    assert web(alice).get(reverse("leads:connectors")).status_code == 403
    assert web(mary).get(reverse("leads:connector", args=[connector.pk])).status_code == 404
    assert (
        web(mary).post(reverse("leads:connector-regenerate", args=[connector.pk])).status_code
        == 404
    )
    listing = web(mary).get(reverse("leads:connectors")).content.decode()
    assert "易车" not in listing
