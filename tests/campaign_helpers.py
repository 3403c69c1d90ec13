"""Launched campaigns for the call-list, event and funnel tests, written
straight to the tables (the launch and the SMS round have their own tests)."""

from datetime import timedelta

from django.utils import timezone

from followups.campaigns.models import Campaign, CampaignMember, CampaignRound
from followups.models import SmsKind, SmsMessage, SmsStatus
from leads.models import Customer, CustomerPhone, OwnedVehicle, VehicleSource

_counter = iter(range(10_000_000))


def owner(store, name: str, phone: str, *, model_name: str = "君越") -> tuple:
    """A base customer with one vehicle: (customer, vehicle)."""
    customer = Customer.objects.create(store=store, name=name, has_full_name=True)
    CustomerPhone.objects.create(customer=customer, store=store, number=phone, is_primary=True)
    vehicle = OwnedVehicle.objects.create(
        store=store,
        customer=customer,
        model_name=model_name,
        plate=f"沪A{next(_counter):05d}",
        delivered_on=timezone.localdate() - timedelta(days=5 * 365),
        source=VehicleSource.MANUAL,
    )
    return customer, vehicle


def launched_campaign(
    store,
    *,
    team=None,
    members: int = 0,
    dispatched_hours_ago: float = 49,
    created_by=None,
    **fields,
) -> Campaign:
    """A launched campaign whose first round went out ``dispatched_hours_ago``
    hours ago, with ``members`` members (each sent the round's message)."""
    now = timezone.now()
    campaign = Campaign.objects.create(
        store=store,
        team=team,
        name=fields.pop("name", f"置换季 {next(_counter)}"),
        status="launched",
        launched_at=now - timedelta(hours=dispatched_hours_ago + 1),
        created_by=created_by,
        call_script="您好，我们店推出老客户置换补贴……",
        sms_template_id="100001",
        **fields,
    )
    CampaignRound.objects.create(
        campaign=campaign,
        number=1,
        planned_at=now - timedelta(hours=dispatched_hours_ago),
        dispatched_at=now - timedelta(hours=dispatched_hours_ago),
        status="done",
    )
    for _n in range(members):
        add_member(campaign)
    return campaign


def add_member(campaign: Campaign, *, sent: bool = True, delivered: bool = True, **fields):
    n = next(_counter)
    phone = f"+86139{n:08d}"
    customer, vehicle = owner(campaign.store, f"车主{n}", phone)
    member = CampaignMember.objects.create(
        campaign=campaign, customer=customer, phone=phone, vehicle=vehicle, **fields
    )
    if sent:
        now = timezone.now()
        message = SmsMessage.objects.create(
            store=campaign.store,
            kind=SmsKind.CAMPAIGN,
            phone=phone,
            params=[customer.name],
            template_id=campaign.sms_template_id,
            idempotency_key=f"campaign:{campaign.pk}:round:1:member:{member.pk}",
            status=SmsStatus.SENT,
            send_after=now,
            sent_at=now,
            delivered_at=now if delivered else None,
            delivery_status="delivered" if delivered else "",
        )
        CampaignMember.objects.filter(pk=member.pk).update(sms=message)
        member.sms = message
    return member


def make_event(actor, store, *, days: float = 3, capacity: int = 20, **fields):
    """An event ``days`` from now, created by ``actor`` (a manager)."""
    from followups.campaigns import invitations

    return invitations.event_create(
        actor=actor,
        store=store,
        name=fields.pop("name", "春季试驾日"),
        starts_at=timezone.now() + timedelta(days=days),
        place=fields.pop("place", "浦东店展厅"),
        capacity=capacity,
        **fields,
    )
