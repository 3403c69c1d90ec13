"""A manager merges two customer records of one person, from a lead's page or
the API; nobody else may, and only leads one can see can be named."""

import pytest

from leads.models import Customer

pytestmark = pytest.mark.django_db


def test_manager_merges_through_the_api(api, alice, bob, mike, make_lead):
    keep = make_lead(alice, phone="13900000101", name="王先生")
    other = make_lead(bob, phone="13900000102", name="王建军")
    response = api(mike).post(f"/api/v1/leads/{keep.pk}/merge/", {"other_lead": other.pk})
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "王建军"
    assert Customer.objects.get(pk=other.customer_id).merged_into_id == keep.customer_id
    assert set(keep.customer.leads.values_list("pk", flat=True)) == {keep.pk, other.pk}


def test_agents_cannot_merge(api, alice, make_lead):
    first, second = make_lead(alice), make_lead(alice)
    response = api(alice).post(f"/api/v1/leads/{first.pk}/merge/", {"other_lead": second.pk})
    assert response.status_code == 403


def test_a_lead_outside_scope_cannot_be_named(api, mike, mary, alice, dave, make_lead):
    mine = make_lead(alice)
    foreign = make_lead(dave)
    response = api(mike).post(f"/api/v1/leads/{mine.pk}/merge/", {"other_lead": foreign.pk})
    assert response.status_code == 400
    assert "other_lead" in response.json()


def test_merging_twice_is_a_conflict(api, alice, mike, make_lead):
    first, second = make_lead(alice), make_lead(alice)
    url = f"/api/v1/leads/{first.pk}/merge/"
    assert api(mike).post(url, {"other_lead": second.pk}).status_code == 200
    assert api(mike).post(url, {"other_lead": second.pk}).status_code == 400  # same customer now


def test_manager_merges_from_the_lead_page(web, alice, bob, mike, make_lead):
    keep = make_lead(alice, phone="13900000103")
    other = make_lead(bob, phone="13900000104")
    page = web(mike).get(f"/leads/{keep.pk}/").content.decode()
    assert 'data-testid="tab-merge"' in page
    # The tab's form comes on demand (htmx), as every tab's but the open one.
    form = web(mike).get(f"/leads/{keep.pk}/merge/", HTTP_HX_REQUEST="true").content.decode()
    assert 'name="merge-other_lead"' in form
    response = web(mike).post(
        f"/leads/{keep.pk}/merge/", {"merge-other_lead": other.pk}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert Customer.objects.get(pk=other.customer_id).merged_into_id == keep.customer_id


def test_agent_sees_no_merge_form_and_is_refused(web, alice, make_lead):
    first, second = make_lead(alice), make_lead(alice)
    assert 'data-testid="tab-merge"' not in web(alice).get(f"/leads/{first.pk}/").content.decode()
    response = web(alice).post(f"/leads/{first.pk}/merge/", {"merge-other_lead": second.pk})
    assert response.status_code == 403
