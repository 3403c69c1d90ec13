"""The duplicate finder lists candidate pairs with their reason, within the
viewer's scope, paged in the database; the merge page asks a manager who
keeps the lead when both owners worked theirs."""

import pytest
from django.urls import reverse

from followups.services import followup_log
from leads import duplicates
from leads.models import Lead, Status
from leads.services import customer_merge


@pytest.fixture
def candidates(alice, bob, carol, dave, mike, make_lead, store_b):
    """In store A: 刘德华 twice on numbers one digit apart (alice, bob); one
    customer with two numbers (carol's two leads, customers merged); 王先生
    twice on near numbers (not a full name: no pair). In store B: alice's
    first number again (dave)."""
    typo_a = make_lead(alice, phone="13912340001", name="刘德华")
    typo_b = make_lead(bob, phone="13912340007", name="刘德华")
    two_a = make_lead(carol, phone="13711112222", name="张学友")
    two_b = make_lead(carol, phone="13633334444", name="张学友")
    customer_merge(actor=mike, keep=two_a.customer, merge=two_b.customer)
    make_lead(alice, phone="13500000001", name="王先生")
    make_lead(bob, phone="13500000002", name="王先生")
    other = make_lead(dave, phone="13912340001", name="刘德华", store=store_b)
    return {"typo": (typo_a, typo_b), "customer": (two_a, two_b), "other": (typo_a, other)}


def _pairs(user):
    total, pairs = duplicates.candidate_pairs(user)
    return total, {(p.first.pk, p.second.pk, p.reason) for p in pairs}


def test_reasons_and_scope(candidates, mike, mary, root, sue, alice):
    typo, customer, other = candidates["typo"], candidates["customer"], candidates["other"]
    store_a = {
        (typo[0].pk, typo[1].pk, "similar_phone"),
        (customer[0].pk, customer[1].pk, "same_customer"),
    }
    assert _pairs(mike) == (2, store_a)
    # Only the group administrator sees both stores: the same number in two.
    assert _pairs(root) == (3, store_a | {(other[0].pk, other[1].pk, "other_store")})
    assert _pairs(mary) == (0, set())
    # A supervisor sees pairs among their team's leads only (alice and bob).
    assert _pairs(sue) == (1, {(typo[0].pk, typo[1].pk, "similar_phone")})


def test_merged_leads_drop_out(candidates, mike):
    keep, merge = candidates["customer"]
    from leads.services import lead_merge

    lead_merge(actor=mike, keep=keep, merge=merge)
    assert Lead.objects.get(pk=merge.pk).status == Status.MERGED
    total, pairs = _pairs(mike)
    assert total == 1
    assert all(reason != "same_customer" for *_ids, reason in pairs)


def test_finder_page_paged_with_bounded_queries(
    candidates, web, mike, alice, django_assert_max_num_queries
):
    client = web(mike)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("leads:duplicates"))
    assert response.status_code == 200
    assert response.content.decode().count('data-testid="duplicate-pair"') == 2
    assert reverse("leads:merge") in response.content.decode()
    assert web(alice).get(reverse("leads:duplicates")).status_code == 403


def test_supervisor_sees_the_pairs_but_no_merge(candidates, web, sue):
    response = web(sue).get(reverse("leads:duplicates"))
    assert response.status_code == 200
    assert response.content.decode().count('data-testid="duplicate-pair"') == 1
    assert reverse("leads:merge") not in response.content.decode()


def test_merge_page_asks_who_keeps_when_both_worked(candidates, web, mike, alice, bob):
    first, second = candidates["typo"]
    followup_log(actor=alice, lead=first, channel="call", result="reached")
    followup_log(actor=bob, lead=second, channel="call", result="reached")
    client = web(mike)
    url = reverse("leads:merge") + f"?a={second.pk}&b={first.pk}"
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="owner"' in page.content.decode()
    refused = client.post(url, {"reason": ""})
    assert refused.status_code == 200  # the form again, with the question
    assert Lead.objects.get(pk=second.pk).status != Status.MERGED
    done = client.post(url, {"owner": bob.pk, "reason": "同一人"})
    assert done.status_code == 302
    first.refresh_from_db()
    assert first.owner == bob
    assert Lead.objects.get(pk=second.pk).merged_into_id == first.pk
    # An agent may not merge; a lead outside the manager's store is 404.
    assert web(alice).get(url).status_code == 403


def test_merge_page_outside_scope_is_404(candidates, web, mary):
    first, second = candidates["typo"]
    url = reverse("leads:merge") + f"?a={first.pk}&b={second.pk}"
    assert web(mary).get(url).status_code == 404
