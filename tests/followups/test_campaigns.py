"""Segments, launch and the SMS round (issue 18), through the services on
the real database; the provider is the console backend here (the fake
Tencent server and a real worker: test_campaign_worker.py)."""

from datetime import date, timedelta
from itertools import pairwise

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from followups import sms
from followups.campaigns import segments, services
from followups.campaigns.models import Campaign, CampaignMember, CampaignStatus, RoundStatus
from followups.models import SmsKind, SmsMessage, SmsStatus
from leads import owners
from leads.models import OptOutReason, OwnedVehicle

pytestmark = pytest.mark.django_db


def years_ago(years, days=0):
    today = timezone.localdate()
    return today.replace(year=today.year - years) - timedelta(days=days)


@pytest.fixture
def base(mike, envision, gl8):
    """Five owners of store A: ages 1, 3, 5, 6 (GL8) and 4 (opted out)."""
    made = {}
    for name, phone, model, years in [
        ("张一", "13900000001", envision, 1),
        ("张三", "13900000003", envision, 3),
        ("张五", "13900000005", envision, 5),
        ("张六", "13900000006", gl8, 6),
        ("张四", "13900000004", envision, 4),
    ]:
        made[name] = owners.owner_add(
            actor=mike,
            store=mike.store,
            name=name,
            phone=phone,
            vehicle_model=model,
            delivered_on=years_ago(years, days=10),
            last_service_on=years_ago(0, days=30 * years),
        )
    owners.opt_out(store=mike.store, phone="+8613900000004", reason=OptOutReason.LIST, actor=mike)
    return made


def names(queryset):
    return sorted(queryset.values_list("name", flat=True))


def test_segment_filters_by_age_model_series_and_always_leaves_opted_out_out(
    base, mike, envision, gl8
):
    store = mike.store
    assert names(segments.customers(store, {})) == ["张一", "张三", "张五", "张六"]
    assert names(segments.customers(store, {"vehicle_age_min": 3, "vehicle_age_max": 5})) == [
        "张三",
        "张五",
    ]
    assert names(segments.customers(store, {"models": [gl8.pk]})) == ["张六"]
    assert names(segments.customers(store, {"series": ["SUV"]})) == ["张一", "张三", "张五"]
    cutoff = years_ago(0, days=80).isoformat()
    assert names(segments.customers(store, {"last_service_before": cutoff})) == [
        "张三",
        "张五",
        "张六",
    ]
    assert segments.customers(store, {"vehicle_age_min": 4, "vehicle_age_max": 4}).count() == 0


def test_segment_clean_reports_the_field():
    with pytest.raises(ValidationError) as exc:
        segments.clean({"vehicle_age_min": "x", "last_service_before": "soon"})
    assert set(exc.value.message_dict) == {"vehicle_age_min", "last_service_before"}


def test_flagged_only(base, mike):
    owners.owner_flag(actor=mike, customer=base["张五"].customer, kind="recommend", note="换车意向")
    assert names(segments.customers(mike.store, {"flagged": True})) == ["张五"]


def make_campaign(mike, filters, **fields):
    segment = services.segment_save(actor=mike, store=mike.store, name="三年以上", filters=filters)
    campaign = Campaign(
        store=mike.store,
        name="老客户置换季",
        segment=segment,
        sms_template_id="2001",
        sms_params=["name", "model", "store"],
        **fields,
    )
    return services.campaign_save(actor=mike, campaign=campaign)


def test_launch_freezes_members_and_plans_one_message_each(base, mike, settings):
    settings.SMS_RATE_PER_SECOND = 10
    campaign = make_campaign(mike, {"vehicle_age_min": 3})
    now = timezone.now()
    round_ = services.campaign_launch(actor=mike, campaign=campaign, now=now)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.LAUNCHED
    members = CampaignMember.objects.filter(campaign=campaign).order_by("pk")
    assert sorted(m.customer.name for m in members) == ["张三", "张五", "张六"]
    # Frozen: an owner added to the segment later is not a member.
    owners.owner_add(
        actor=mike, store=mike.store, name="新车主", phone="13900000009", delivered_on=years_ago(7)
    )
    assert members.count() == 3
    messages = SmsMessage.objects.filter(kind=SmsKind.CAMPAIGN).order_by("send_after")
    assert round_.planned_count == 3
    assert round_.status == RoundStatus.PLANNED
    assert [m.idempotency_key for m in messages] == [
        f"campaign:{campaign.pk}:round:1:member:{m.pk}" for m in members
    ]
    first = messages[0]
    assert first.template_id == "2001"
    assert first.signature == mike.store.name  # the store's signature (default: its name)
    assert first.params == ["张三", "昂科威", mike.store.name]
    # Paced: 10 a second, one slot each.
    gaps = [(b.send_after - a.send_after).total_seconds() for a, b in pairwise(messages)]
    assert gaps == [0.1, 0.1]
    assert all(m.sms_id for m in members)
    # Planning the same keys again adds nothing.
    rows = [(m.idempotency_key, m.phone, m.params) for m in messages]
    assert (
        sms.plan_batch(
            store=mike.store,
            batch="x",
            kind=SmsKind.CAMPAIGN,
            template_id="2001",
            signature="s",
            rows=rows,
            start=now,
        )
        == 0
    )
    with pytest.raises(ValidationError):
        services.campaign_launch(actor=mike, campaign=campaign)


def test_send_batch_sends_each_once_at_its_slot(base, mike, settings):
    settings.SMS_RATE_PER_SECOND = 2
    campaign = make_campaign(mike, {})
    now = timezone.now()
    round_ = services.campaign_launch(actor=mike, campaign=campaign, now=now)
    slept = []
    clock = [now]

    def sleep(seconds):
        slept.append(round(seconds, 3))
        clock[0] += timedelta(seconds=seconds)

    batch = services.batch_name(round_)
    outcome = sms.send_batch(batch, sleep=sleep, clock=lambda: clock[0])
    assert outcome == {"sent": 4}
    assert slept == [0.5, 0.5, 0.5]
    assert sms.send_batch(batch) == {}  # again: nothing left
    assert SmsMessage.objects.filter(batch=batch, status=SmsStatus.SENT).count() == 4
    assert services.rounds_finish() == 0  # never dispatched through the task
    services.round_dispatch(round_.pk)
    assert services.rounds_finish() == 1


def test_opted_out_members_are_skipped_in_later_rounds(base, mike, settings):
    settings.SMS_RATE_PER_SECOND = 0
    campaign = make_campaign(mike, {})
    round_ = services.campaign_launch(actor=mike, campaign=campaign)
    sms.send_batch(services.batch_name(round_))
    owners.opt_out(store=mike.store, phone="+8613900000001", reason=OptOutReason.CALL, actor=mike)
    second = services.round_plan(actor=mike, campaign=campaign)
    assert second.number == 2
    assert (second.planned_count, second.skipped_count) == (3, 1)
    phones = SmsMessage.objects.filter(batch=services.batch_name(second)).values_list(
        "phone", flat=True
    )
    assert "+8613900000001" not in phones


def test_roles_and_stores(base, mike, alice, mary):
    with pytest.raises(PermissionDenied):
        services.segment_save(actor=alice, store=mike.store, name="x", filters={})
    with pytest.raises(PermissionDenied):
        services.segment_save(actor=mary, store=mike.store, name="x", filters={})


def test_a_delivery_makes_an_owned_vehicle_once(alice, make_lead, envision):
    from leads.services import deal_record

    lead = make_lead(alice)
    deal_record(actor=alice, lead=lead, vehicle_model=envision, stage="order")
    deal = deal_record(actor=alice, lead=lead, vehicle_model=envision, stage="delivered")
    vehicle = OwnedVehicle.objects.get(deal=deal)
    assert (vehicle.customer_id, vehicle.vehicle_model_id, vehicle.source) == (
        lead.customer_id,
        envision.pk,
        "delivery",
    )
    assert vehicle.delivered_on == timezone.localdate()
    assert isinstance(vehicle.purchased_on, date)
