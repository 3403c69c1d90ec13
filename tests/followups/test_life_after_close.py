"""Issue 13, point 5: life after close. A defeated lead may carry a
re-contact date (战败回访) that brings it back to its owner's queue without
reopening it; a delivered customer gets the store's after-sales calls (seed
000 成交客户定期回访); a lead may name the C-card customer who referred it,
and referrals are counted."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from followups import selectors, services
from followups.models import FollowupPolicy
from kpi.metrics import compute
from kpi.metrics.base import Period, Scope
from leads.lifecycle import LeadStateError
from leads.models import Lead, Status
from leads.services import deal_record, lead_activate, lead_defeat, lead_set_referrer
from tests.desk.helpers import HX

pytestmark = pytest.mark.django_db


def _kinds(agent, lead, now=None):
    return [i.kind for i in selectors.queue_for_agent(agent=agent, now=now) if i.lead.pk == lead.pk]


def test_a_defeated_lead_comes_back_on_its_recontact_date_still_defeated(
    alice, mike, make_lead, price_reason
):
    lead = make_lead(alice)
    in_a_week = timezone.now() + timedelta(days=7)
    with pytest.raises(ValidationError):
        lead_defeat(
            actor=mike, lead=lead, reason=price_reason, recontact_at=timezone.now() - timedelta(1)
        )
    lead_defeat(actor=mike, lead=lead, reason=price_reason, recontact_at=in_a_week)
    lead.refresh_from_db()
    assert (lead.status, lead.recontact_at) == (Status.DEFEATED, in_a_week)
    assert _kinds(alice, lead) == []  # not yet
    # Too early, a call on a closed lead is refused as before.
    with pytest.raises(LeadStateError):
        services.followup_log(actor=alice, lead=lead, channel="call", result="reached")

    Lead.objects.filter(pk=lead.pk).update(recontact_at=timezone.now() - timedelta(hours=1))
    items = [i for i in selectors.queue_for_agent(agent=alice) if i.lead.pk == lead.pk]
    assert [i.kind for i in items] == ["recontact"]
    assert "defeated" in items[0].reason.lower() or "战败" in items[0].reason
    # Only "reached" or "not reached": to work it again, the manager activates it.
    with pytest.raises(ValidationError):
        services.followup_log(actor=alice, lead=lead, channel="call", result="invited")
    services.followup_log(actor=alice, lead=lead, channel="call", result="no_answer")
    lead.refresh_from_db()
    assert lead.status == Status.DEFEATED
    assert lead.recontact_at > timezone.now()  # the store's retry interval
    Lead.objects.filter(pk=lead.pk).update(recontact_at=timezone.now() - timedelta(hours=1))
    services.followup_log(actor=alice, lead=lead, channel="call", result="reached", note="明年再买")
    lead.refresh_from_db()
    assert (lead.status, lead.recontact_at) == (Status.DEFEATED, None)
    assert _kinds(alice, lead) == []
    assert lead.followups.count() == 2
    # Re-activation (the rule that reopens) clears any re-contact date.
    Lead.objects.filter(pk=lead.pk).update(recontact_at=timezone.now())
    lead = lead_activate(actor=mike, lead=lead, owner=alice, reason="客户回心转意")
    assert lead.recontact_at is None
    assert _kinds(alice, lead) == ["new"]


def test_the_queue_panel_defeats_with_a_recontact_date(web, alice, make_lead, price_reason):
    lead = make_lead(alice)
    when = timezone.localtime() + timedelta(days=30)
    response = web(alice).post(
        reverse("desk:queue-log", args=[f"new-{lead.pk}"]),
        {
            "followup-result": "defeated",
            "followup-channel": "call",
            "followup-purpose": "other",
            "followup-level": "B",
            "followup-defeat_reason": price_reason.pk,
            "followup-recontact_at": when.strftime("%Y-%m-%dT%H:%M"),
        },
        **HX,
    )
    assert response.status_code == 200
    lead.refresh_from_db()
    assert lead.status in (Status.DEFEATED, Status.DEFEAT_PENDING)
    assert timezone.localtime(lead.recontact_at).strftime("%Y-%m-%d %H:%M") == when.strftime(
        "%Y-%m-%d %H:%M"
    )


def test_a_delivered_customer_gets_the_stores_aftercare_calls(
    alice, mike, make_lead, envision, store_a
):
    FollowupPolicy.objects.create(store=store_a, aftercare_days="3, 30")
    lead = make_lead(alice)
    delivered_at = timezone.now() - timedelta(days=4)
    # Recorded late by the manager: the calls count from the delivery.
    deal_record(
        actor=mike, lead=lead, vehicle_model=envision, stage="delivered", deal_at=delivered_at
    )
    lead.refresh_from_db()
    assert lead.status == Status.DELIVERED
    assert lead.recontact_at == delivered_at + timedelta(days=3)
    assert _kinds(alice, lead, now=delivered_at + timedelta(days=1)) == []
    items = [i for i in selectors.queue_for_agent(agent=alice) if i.lead.pk == lead.pk]
    assert [i.kind for i in items] == ["recontact"]
    assert items[0].deadline == delivered_at + timedelta(days=3)
    # The day-3 call done, the day-30 one is next; the lead stays delivered.
    services.followup_log(actor=alice, lead=lead, channel="call", result="reached")
    lead.refresh_from_db()
    assert (lead.status, lead.recontact_at) == (Status.DELIVERED, delivered_at + timedelta(days=30))
    assert _kinds(alice, lead) == []
    # After the last one, none.
    policy = FollowupPolicy.objects.for_store(store_a)
    assert policy.next_aftercare(delivered_at, after=delivered_at + timedelta(days=31)) is None


def test_the_aftercare_days_setting_is_validated(store_a):
    policy = FollowupPolicy(store=store_a, aftercare_days="3,abc")
    with pytest.raises(ValidationError):
        policy.full_clean()
    policy.aftercare_days = "30，3"  # a Chinese comma reads too
    policy.full_clean()
    assert policy.next_aftercare(timezone.now(), after=timezone.now()) is not None


def test_referrals_name_a_c_card_customer_and_are_counted(
    web, alice, bob, mike, make_lead, envision, store_a
):
    buyer = make_lead(alice, name="老客户", phone="13900001111")
    prospect = make_lead(alice, name="新客户")
    with pytest.raises(ValidationError):  # not a buyer yet
        lead_set_referrer(actor=alice, lead=prospect, phone="13900001111")
    deal_record(actor=alice, lead=buyer, vehicle_model=envision, stage="delivered")
    with pytest.raises(ValidationError):
        lead_set_referrer(actor=alice, lead=buyer, phone="13900001111")  # themselves
    # Through the lead page's form.
    response = web(alice).post(
        reverse("desk:lead-action", args=[prospect.pk, "referrer"]),
        {"referrer-phone": "139 0000 1111"},
        **HX,
    )
    assert response.status_code == 200
    prospect.refresh_from_db()
    assert prospect.referred_by_id == buyer.customer_id
    assert 'data-testid="referred-by"' in response.content.decode()
    page = web(alice).get(reverse("desk:lead", args=[buyer.pk])).content.decode()
    assert 'data-testid="referral-count"' in page
    # The KPI counts leads received that name a referrer.
    today = timezone.localdate()
    period = Period(today.replace(day=1), today)
    assert compute(Scope("agent", alice.pk), period)["referrals"].numerator == 1
    assert compute(Scope("agent", bob.pk), period)["referrals"].numerator == 0
    # Another agent cannot set a referrer on alice's lead.
    response = web(bob).post(
        reverse("desk:lead-action", args=[prospect.pk, "referrer"]), {"referrer-phone": ""}, **HX
    )
    assert response.status_code == 404


def test_the_agent_logs_a_recontact_from_the_queue_panel(
    web, alice, bob, mike, make_lead, price_reason
):
    lead = make_lead(alice)
    lead_defeat(
        actor=mike,
        lead=lead,
        reason=price_reason,
        recontact_at=timezone.now() + timedelta(days=1),
    )
    Lead.objects.filter(pk=lead.pk).update(recontact_at=timezone.now() - timedelta(hours=1))
    key = f"recontact-{lead.pk}"
    panel = web(alice).get(reverse("desk:queue-item", args=[key]), **HX)
    assert panel.status_code == 200
    assert 'data-testid="log-form"' in panel.content.decode()
    assert web(bob).get(reverse("desk:queue-item", args=[key]), **HX).status_code == 404
    response = web(alice).post(
        reverse("desk:queue-log", args=[key]),
        {
            "followup-result": "reached",
            "followup-channel": "call",
            "followup-purpose": "other",
            "followup-level": "B",
            "followup-note": "暂无购车计划",
        },
        **HX,
    )
    assert response.status_code == 200
    lead.refresh_from_db()
    assert (lead.status, lead.recontact_at) == (Status.DEFEATED, None)
    assert lead.followups.get().note == "暂无购车计划"
