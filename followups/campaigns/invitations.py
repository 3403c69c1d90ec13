"""Events and their guests (issue 18, point 6).

An event has a date, a place and a capacity. Staff invite customers to it
from the queue (a lead) or from a campaign call (a member), with their
answer (yes, maybe, no; "yes" answers never pass the capacity). A guest who
said yes or maybe gets one SMS reminder the day before, through the outbox
(template-only, exactly once: its idempotency key names the invitation).
At the door a phone-sized list checks guests in; a guest who came is
followed up: their lead (a new one when they had none) is due a call the
next morning in its owner's queue.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from dcc import audit
from dcc.policy import LEAD_OWNER_ROLES, can, require
from followups import sms
from followups.campaigns.models import CampaignMember
from followups.campaigns.models_outreach import CampaignEvent, EventInvitation, Rsvp
from followups.models import SmsKind, SmsMessage, SmsStatus
from leads import lifecycle, owners
from leads import services as lead_services
from leads.models import OPEN_STATUSES, Lead, Source

# The morning after a visit, the guest's follow-up call is due (local time).
FOLLOWUP_HOUR = 10


@transaction.atomic
def event_create(
    *,
    actor,
    store,
    name: str,
    starts_at: datetime,
    place: str,
    capacity: int,
    campaign=None,
    sms_template_id: str = "",
) -> CampaignEvent:
    require(actor, "campaigns.events.manage")
    if not actor.sees_all_stores and store.pk != actor.store_id:
        raise PermissionDenied("store outside the actor's scope")
    errors = {}
    if not (name or "").strip():
        errors["name"] = [_("Enter the event's name.")]
    if capacity is None or capacity < 1:
        errors["capacity"] = [_("The capacity must be at least 1.")]
    if campaign is not None and campaign.store_id != store.pk:
        errors["campaign"] = [_("The campaign belongs to another store.")]
    if errors:
        raise ValidationError(errors)
    event = CampaignEvent(
        store=store,
        campaign=campaign,
        name=name.strip(),
        starts_at=starts_at,
        place=place,
        capacity=capacity,
        sms_template_id=sms_template_id,
        created_by=actor,
    )
    event.full_clean(exclude=["store", "campaign", "created_by"])
    event.save()
    audit.record("campaigns.event.created", actor=actor, target=event, store=store)
    return event


def _who(*, actor, lead: Lead | None, member: CampaignMember | None):
    """The customer and number an invitation is for, checked against what
    the actor may work: their lead (or one they see), or a member of their
    call list (or any member, for campaign managers)."""
    if (lead is None) == (member is None):
        raise ValidationError(_("Invite either a lead or a campaign member."))
    if lead is not None:
        if not Lead.objects.visible_to(actor).filter(pk=lead.pk).exists():
            raise PermissionDenied("lead outside the actor's scope")
        return lead.customer, lead.phone, lead
    if member.caller_id != actor.pk and not can(actor, "campaigns.manage"):
        raise PermissionDenied("member not on the actor's list")
    if not CampaignMember.objects.visible_to(actor).filter(pk=member.pk).exists():
        raise PermissionDenied("member outside the actor's scope")
    return member.customer, member.phone, member.lead


@transaction.atomic
def invite(
    *,
    actor,
    event: CampaignEvent,
    rsvp: str,
    lead: Lead | None = None,
    member: CampaignMember | None = None,
    now: datetime | None = None,
) -> EventInvitation:
    """Invite a customer (or record their new answer): one invitation per
    customer and event. "Yes" answers never pass the event's capacity (the
    event row is locked while they are counted)."""
    require(actor, "campaigns.invite")
    now = now or timezone.now()
    if rsvp not in Rsvp.values:
        raise ValidationError({"rsvp": [_("Unknown answer.")]})
    event = CampaignEvent.objects.visible_to(actor).select_for_update().filter(pk=event.pk).first()
    if event is None:
        raise PermissionDenied("event outside the actor's scope")
    if event.starts_at <= now:
        raise ValidationError(_("This event has already started."))
    customer, phone, lead = _who(actor=actor, lead=lead, member=member)
    invitation = EventInvitation.objects.filter(event=event, customer=customer).first()
    if rsvp == Rsvp.YES and (invitation is None or invitation.rsvp != Rsvp.YES):
        coming = event.invitations.filter(rsvp=Rsvp.YES).count()
        if coming >= event.capacity:
            raise ValidationError(
                {"rsvp": [_("The event is full (%(n)s places).") % {"n": event.capacity}]}
            )
    if invitation is None:
        invitation = EventInvitation.objects.create(
            event=event,
            customer=customer,
            phone=phone,
            lead=lead,
            member=member,
            invited_by=actor,
            invited_at=now,
            rsvp=rsvp,
        )
    else:
        EventInvitation.objects.filter(pk=invitation.pk).update(
            rsvp=rsvp, lead=invitation.lead or lead, member=invitation.member or member
        )
        invitation.refresh_from_db()
    if member is not None:
        CampaignMember.objects.filter(pk=member.pk).update(invited=True)
    _plan_reminder(invitation, now=now)
    audit.record(
        "campaigns.event.invited", actor=actor, target=invitation, store=event.store, rsvp=rsvp
    )
    return invitation


def reminder_key(invitation: EventInvitation) -> str:
    return f"event:{invitation.event_id}:invitation:{invitation.pk}:reminder"


def _when(moment: datetime) -> str:
    return date_format(timezone.localtime(moment), "n月j日 H:i")


def _plan_reminder(invitation: EventInvitation, *, now: datetime) -> None:
    """One reminder for a guest coming (or maybe): the day before at the
    store's reminder hour, or now when that has passed. An answer turned to
    "no" cancels a reminder still waiting. Planned once whatever is called
    again (the outbox's unique key); nothing without a provider template,
    nor to a number on the store's opt-out list."""
    event = invitation.event
    if invitation.rsvp == Rsvp.NO:
        SmsMessage.objects.filter(
            idempotency_key=reminder_key(invitation), status=SmsStatus.PENDING
        ).update(status=SmsStatus.CANCELLED)
        return
    if not event.sms_template_id or owners.is_opted_out(event.store, invitation.phone):
        return
    send_after = max(sms.reminder_time(event.starts_at, store=event.store), now)
    message, created = SmsMessage.objects.get_or_create(
        idempotency_key=reminder_key(invitation),
        defaults={
            "store": event.store,
            "lead": invitation.lead,
            "kind": SmsKind.CAMPAIGN,
            "template_id": event.sms_template_id,
            "phone": invitation.phone,
            "params": [invitation.customer.name, event.name, _when(event.starts_at), event.place],
            "signature": sms.signature_for(event.store),
            "send_after": send_after,
        },
    )
    if not created and message.status == SmsStatus.CANCELLED:
        # Back to yes or maybe after a "no": the same one message, again.
        SmsMessage.objects.filter(pk=message.pk, status=SmsStatus.CANCELLED).update(
            status=SmsStatus.PENDING, send_after=send_after
        )
        message.refresh_from_db()
    EventInvitation.objects.filter(pk=invitation.pk).update(reminder_sms=message)
    invitation.reminder_sms = message
    if message.status == SmsStatus.PENDING and message.send_after <= now:
        sms.enqueue([message.pk])


# ---------------------------------------------------------------- the door


def door_list(*, user, event: CampaignEvent, query: str = ""):
    """The event's guests for the check-in page, searched by name or phone
    (digits anywhere in the number)."""
    require(user, "campaigns.events.checkin")
    guests = (
        EventInvitation.objects.visible_to(user)
        .filter(event=event)
        .exclude(rsvp=Rsvp.NO, checked_in_at__isnull=True)
        .select_related("customer", "invited_by")
    )
    query = (query or "").strip()
    if query:
        digits = "".join(ch for ch in query if ch.isdigit())
        match = Q(customer__name__icontains=query)
        if len(digits) >= 3:
            match |= Q(phone__contains=digits)
        guests = guests.filter(match)
    return guests.order_by("checked_in_at", "customer__name", "pk")


@transaction.atomic
def check_in(*, actor, invitation: EventInvitation, now: datetime | None = None) -> EventInvitation:
    """Mark a guest arrived (once: a second tap changes nothing) and plan
    their follow-up."""
    require(actor, "campaigns.events.checkin")
    now = now or timezone.now()
    if not EventInvitation.objects.visible_to(actor).filter(pk=invitation.pk).exists():
        raise PermissionDenied("invitation outside the actor's scope")
    arrived = EventInvitation.objects.filter(pk=invitation.pk, checked_in_at__isnull=True).update(
        checked_in_at=now, checked_in_by=actor
    )
    invitation = EventInvitation.objects.select_related("event__store", "customer", "lead").get(
        pk=invitation.pk
    )
    if arrived:
        _follow_up(actor=actor, invitation=invitation, now=now)
        audit.record(
            "campaigns.event.checked_in",
            actor=actor,
            target=invitation,
            store=invitation.event.store,
        )
    return invitation


def _follow_up(*, actor, invitation: EventInvitation, now: datetime) -> None:
    """The guest's follow-up: their open lead is due a call the next morning
    in its owner's queue (earlier plans stay); a guest without an open lead
    gets a new one, owned by whoever invited them (when they may own leads)."""
    due = timezone.make_aware(
        datetime.combine(timezone.localdate(now) + timedelta(days=1), time(hour=FOLLOWUP_HOUR))
    )
    lead = invitation.lead
    if lead is None or lead.status not in OPEN_STATUSES:
        lead = lead_services.find_open_lead(store=invitation.event.store, phone=invitation.phone)
    if lead is None:
        inviter = invitation.invited_by
        owner = inviter if inviter.role in LEAD_OWNER_ROLES and inviter.is_active else None
        try:
            lead = lead_services.lead_create(
                actor=inviter if owner else actor,
                store=invitation.event.store,
                name=invitation.customer.name,
                phone=invitation.phone,
                source=Source.REPURCHASE if invitation.member_id else Source.WALK_IN,
                owner=owner,
                note=_("Came to the event %(name)s.") % {"name": invitation.event.name},
            )
        except lead_services.DuplicateLead as exc:
            lead = exc.existing
    lead = lifecycle.lock(lead)
    if lead.next_followup_at is None or lead.next_followup_at > due:
        lead.next_followup_at = due
        lifecycle.save(
            lead,
            actor=actor,
            reason=_("Came to the event %(name)s.") % {"name": invitation.event.name},
        )
    EventInvitation.objects.filter(pk=invitation.pk).update(lead=lead)
    if invitation.member_id:
        CampaignMember.objects.filter(pk=invitation.member_id, lead__isnull=True).update(lead=lead)
