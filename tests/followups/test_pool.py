"""The pool (公海, issue 17 point 2): the store's rules send leads there, agents
claim under a daily cap, supervisors give to their team, the clock restarts
as the store sets, every move is recorded, and nobody sees another store's
pool."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from dcc.models import AuditEvent
from followups import pool as pool_rules
from followups.models import FollowupPolicy
from kpi import dashboards
from kpi.metrics import Scope
from leads import pool
from leads.lifecycle import LeadStateError
from leads.models import Lead, PoolEvent, PoolEventKind, PoolReason, Source

pytestmark = pytest.mark.django_db


@pytest.fixture
def policy(store_a):
    return FollowupPolicy.objects.create(
        store=store_a,
        pool_on_first_contact=True,
        pool_after_unanswered=3,
        pool_overdue_days=5,
        pool_claims_per_day=2,
    )


def oem_lead(make_lead, owner, phone, hours_ago=72):
    lead = make_lead(owner, phone=phone, source=Source.MANUFACTURER)
    # Received long ago: its 48-hour deadline has passed.
    Lead.objects.filter(pk=lead.pk).update(
        received_at=timezone.now() - timedelta(hours=hours_ago),
        first_contact_due=timezone.now() - timedelta(hours=hours_ago - 48),
    )
    return Lead.objects.get(pk=lead.pk)


def test_sweep_by_each_rule(policy, make_lead, alice, bob):
    late = oem_lead(make_lead, alice, "13900000001")
    in_time = oem_lead(make_lead, alice, "13900000002", hours_ago=10)
    unanswered = make_lead(bob, phone="13900000003")
    Lead.objects.filter(pk=unanswered.pk).update(
        unanswered_attempts=3, last_attempt_at=timezone.now()
    )
    overdue = make_lead(bob, phone="13900000004")
    Lead.objects.filter(pk=overdue.pk).update(next_followup_at=timezone.now() - timedelta(days=6))
    assert pool_rules.sweep_to_pool() == 3
    reasons = dict(Lead.objects.pooled().values_list("pk", "pool_reason"))
    assert reasons == {
        late.pk: PoolReason.FIRST_CONTACT,
        unanswered.pk: PoolReason.UNANSWERED,
        overdue.pk: PoolReason.OVERDUE,
    }
    assert Lead.objects.get(pk=in_time.pk).owner_id == alice.pk
    late.refresh_from_db()
    assert late.owner_id is None
    assert late.history.latest().history_change_reason == str(PoolReason.FIRST_CONTACT.label)
    assert late.history.latest().owner_id is None
    event = PoolEvent.objects.get(lead=late)
    assert (event.kind, event.staff_id) == (PoolEventKind.POOLED, alice.pk)
    audit = AuditEvent.objects.get(name="leads.pool.pooled", target_id=late.pk)
    assert audit.data["previous"] == alice.pk
    assert pool_rules.sweep_to_pool() == 0  # once


def test_sweep_does_nothing_without_rules(store_a, make_lead, alice):
    oem_lead(make_lead, alice, "13900000001")
    assert pool_rules.sweep_to_pool() == 0


def test_claim_restarts_the_clock_and_records(policy, make_lead, alice, bob):
    lead = oem_lead(make_lead, alice, "13900000001")
    pool_rules.sweep_to_pool()
    claimed = pool_rules.claim(actor=bob, lead_id=lead.pk)
    assert claimed.owner_id == bob.pk
    assert claimed.pooled_at is None
    assert claimed.first_contact_due > timezone.now()  # the transfer window, from now
    assert claimed.transferred_at is not None
    event = PoolEvent.objects.get(lead=lead, kind=PoolEventKind.CLAIMED)
    assert event.staff_id == bob.pk
    assert event.waited_seconds is not None
    assert AuditEvent.objects.filter(name="leads.pool.claimed", target_id=lead.pk).exists()
    assert claimed.history.latest().history_user_id == bob.pk
    # Not pooled again by the deadline it was claimed with a new clock for.
    assert pool_rules.sweep_to_pool() == 0
    with pytest.raises(LeadStateError):
        pool_rules.claim(actor=alice, lead_id=lead.pk)


def test_claim_keeps_the_clock_when_the_store_says(policy, make_lead, alice, bob):
    policy.pool_claim_restarts_clock = False
    policy.save()
    lead = oem_lead(make_lead, alice, "13900000001")
    due = lead.first_contact_due
    pool_rules.sweep_to_pool()
    claimed = pool_rules.claim(actor=bob, lead_id=lead.pk)
    assert claimed.first_contact_due == due
    # The missed deadline does not send it straight back.
    assert pool_rules.sweep_to_pool() == 0
    assert Lead.objects.get(pk=lead.pk).owner_id == bob.pk


def test_daily_claim_cap(policy, make_lead, alice, bob):
    leads = [oem_lead(make_lead, alice, f"1390000000{i}") for i in range(3)]
    pool_rules.sweep_to_pool()
    pool_rules.claim(actor=bob, lead_id=leads[0].pk)
    pool_rules.claim(actor=bob, lead_id=leads[1].pk)
    with pytest.raises(ValidationError):
        pool_rules.claim(actor=bob, lead_id=leads[2].pk)
    assert Lead.objects.get(pk=leads[2].pk).owner_id is None


def test_only_agents_claim_and_only_their_stores(policy, make_lead, alice, sue, mike, dave):
    lead = oem_lead(make_lead, alice, "13900000001")
    pool_rules.sweep_to_pool()
    for user in (sue, mike):
        with pytest.raises(PermissionDenied):
            pool_rules.claim(actor=user, lead_id=lead.pk)
    with pytest.raises(LeadStateError):
        pool_rules.claim(actor=dave, lead_id=lead.pk)  # another store's pool
    assert Lead.objects.get(pk=lead.pk).owner_id is None


def test_supervisor_gives_to_the_team_only(policy, make_lead, alice, bob, carol, sue):
    leads = [oem_lead(make_lead, alice, f"1390000000{i}") for i in range(2)]
    pool_rules.sweep_to_pool()
    with pytest.raises(ValidationError):
        pool_rules.redistribute(actor=sue, lead_ids=[leads[0].pk], owner=carol, reason="x")
    given, gone = pool_rules.redistribute(
        actor=sue, lead_ids=[lead.pk for lead in leads] + [999999], owner=bob, reason="早会分配"
    )
    assert [lead.owner_id for lead in given] == [bob.pk, bob.pk]
    assert gone == [999999]
    assert PoolEvent.objects.filter(kind=PoolEventKind.REDISTRIBUTED).count() == 2
    with pytest.raises(PermissionDenied):
        pool_rules.redistribute(actor=alice, lead_ids=[leads[0].pk], owner=alice, reason="x")


def test_pool_page_scope(policy, make_lead, web, alice, bob, dave, django_assert_max_num_queries):
    leads = [oem_lead(make_lead, alice, f"139000000{i:02d}") for i in range(12)]
    pool_rules.sweep_to_pool()
    client = web(bob)
    with django_assert_max_num_queries(14):
        page = client.get(reverse("followups:pool"))
    assert page.status_code == 200
    assert all(f"#{lead.pk} " in page.content.decode() for lead in leads)
    # Another store's agent sees an empty pool and cannot claim from this one.
    other = web(dave).get(reverse("followups:pool"))
    assert f"#{leads[0].pk} " not in other.content.decode()
    web(dave).post(reverse("followups:pool-claim", args=[leads[0].pk]))
    assert Lead.objects.get(pk=leads[0].pk).owner_id is None
    client = web(bob)
    response = client.post(reverse("followups:pool-claim", args=[leads[0].pk]))
    assert response.status_code == 302
    assert Lead.objects.get(pk=leads[0].pk).owner_id == bob.pk


def test_pool_page_roles(web, store_a, connie, mike, sue):
    assert web(connie).get(reverse("followups:pool")).status_code == 403
    assert web(connie).post(reverse("followups:pool-claim", args=[1])).status_code == 403
    assert web(mike).post(reverse("followups:pool-claim", args=[1])).status_code == 403
    assert web(mike).get(reverse("followups:pool")).status_code == 200


def test_dashboard_pool_figures(policy, make_lead, alice, bob, mike):
    leads = [oem_lead(make_lead, alice, f"1390000000{i}") for i in range(3)]
    pool_rules.sweep_to_pool()
    pool_rules.claim(actor=bob, lead_id=leads[0].pk)
    figures = dashboards.pool(Scope("store", mike.store_id))
    assert figures["size"] == 2
    assert figures["claimed"] == 1
    assert figures["pooled"] == 3
    assert figures["oldest_hours"] == 0
    assert (
        pool.pool_figures(
            Lead.objects.pool_for(bob),
            PoolEvent.objects.none(),
            now=timezone.now(),
            since=timezone.now(),
        )["size"]
        == 2
    )


def test_pool_api(policy, make_lead, api, alice, bob, dave, mike):
    lead = oem_lead(make_lead, alice, "13900000001")
    pool_rules.sweep_to_pool()
    listed = api(bob).get("/api/v1/pool/")
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [lead.pk]
    assert listed.json()["results"][0]["phone_masked"] != lead.phone
    assert api(dave).get("/api/v1/pool/").json()["results"] == []
    assert api(dave).post(f"/api/v1/pool/{lead.pk}/claim/").status_code == 404
    assert api(mike).post(f"/api/v1/pool/{lead.pk}/claim/").status_code == 403
    claimed = api(bob).post(f"/api/v1/pool/{lead.pk}/claim/")
    assert claimed.status_code == 200, claimed.content
    assert Lead.objects.get(pk=lead.pk).owner_id == bob.pk
    assert api(alice).post(f"/api/v1/pool/{lead.pk}/claim/").status_code == 409
    schema = api().get("/api/v1/schema/").content.decode()
    assert "/api/v1/pool/{id}/claim/" in schema


def test_a_manager_assigning_a_pool_lead_takes_it_out_of_the_pool(
    policy, make_lead, alice, bob, mike
):
    from leads.services import lead_assign

    lead = oem_lead(make_lead, alice, "13900000001")
    pool_rules.sweep_to_pool()
    lead_assign(actor=mike, lead=Lead.objects.get(pk=lead.pk), owner=bob, reason="经理分配")
    lead.refresh_from_db()
    assert (lead.owner_id, lead.pooled_at, lead.pool_reason) == (bob.pk, None, "")
    assert not Lead.objects.pooled().exists()


def test_worked_and_showroom_leads_stay(policy, make_lead, alice, connie):
    visited = oem_lead(make_lead, alice, "13900000001")
    Lead.objects.filter(pk=visited.pk).update(status="visited")
    showroom = oem_lead(make_lead, connie, "13900000002")
    assert pool_rules.sweep_to_pool() == 0
    assert Lead.objects.get(pk=showroom.pk).owner_id == connie.pk
