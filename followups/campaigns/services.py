"""Every write to campaigns: segments saved, campaigns created, launched
(members frozen) and their SMS rounds planned and dispatched (issue 18).

A round is exactly once per member: each message is an outbox row keyed
``campaign:<id>:round:<n>:member:<member id>`` (planning twice adds
nothing), sent by ``followups.sms.send_batch`` which claims each row before
calling the provider (two workers, a retry or a restarted task send it
once; a worker killed mid-send leaves it "sending", never resent by itself,
as the appointment reminders). Messages are planned in slots paced to the
provider's rate (``SMS_RATE_PER_SECOND``), with the store's signature and
the campaign's provider template (template-only, TELEPHONY.md).
"""

from __future__ import annotations

from datetime import date, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dcc import audit
from dcc.celery import enqueue_on_commit
from dcc.policy import require
from dcc.validators import check_text
from followups import sms
from followups.campaigns import segments
from followups.campaigns.models import (
    Campaign,
    CampaignMember,
    CampaignRound,
    CampaignStatus,
    RoundStatus,
    Segment,
    key,
)
from followups.models import SmsKind
from leads.models import CustomerPhone, OptOut, OwnedVehicle

# What a campaign's template parameters may be, in the order the provider's
# template wants them (``Campaign.sms_params``): each a member's value.
PARAM_SOURCES = {
    "name": gettext_lazy("Customer's name"),
    "model": gettext_lazy("Their vehicle's model"),
    "plate": gettext_lazy("Their plate"),
    "vehicle_years": gettext_lazy("Their vehicle's age in years"),
    "series": gettext_lazy("Promoted series"),
    "campaign": gettext_lazy("Campaign name"),
    "store": gettext_lazy("Store name"),
    "starts_on": gettext_lazy("Start date"),
    "ends_on": gettext_lazy("End date"),
}
MEMBER_CHUNK = 5000


def _require_store(actor, store_id) -> None:
    if not actor.sees_all_stores and actor.store_id != store_id:
        raise PermissionDenied("store outside the actor's scope")


# ---------------------------------------------------------------- segments


@transaction.atomic
def segment_save(*, actor, store, name: str, filters: dict, segment: Segment | None = None):
    """Create or rename/refilter a segment of ``store``."""
    require(actor, "campaigns.manage")
    _require_store(actor, store.pk)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Give the segment a name.")})
    check_text(name=name)
    filters = segments.clean(filters)
    if filters.get("stores") and not actor.sees_all_stores:
        raise ValidationError({"stores": _("Only a group administrator picks other stores.")})
    duplicate = Segment.objects.filter(store=store, name=name)
    if segment is not None:
        duplicate = duplicate.exclude(pk=segment.pk)
    if duplicate.exists():
        raise ValidationError({"name": _("The store already has a segment of this name.")})
    segment = segment or Segment(store=store, created_by=actor)
    segment.name, segment.filters = name, filters
    segment.save()
    audit.record("campaigns.segment.saved", actor=actor, target=segment, store=store)
    return segment


# ---------------------------------------------------------------- campaigns


def validate_params(params) -> list[str]:
    if not isinstance(params, list) or any(p not in PARAM_SOURCES for p in params):
        raise ValidationError(
            {
                "sms_params": _("Each parameter is one of: %(names)s.")
                % {"names": ", ".join(PARAM_SOURCES)}
            }
        )
    return list(params)


@transaction.atomic
def campaign_save(*, actor, campaign: Campaign, promoted_models=None) -> Campaign:
    """Create or change a campaign; once launched only its call script,
    dates and call settings change (the members and template are fixed)."""
    require(actor, "campaigns.manage")
    _require_store(actor, campaign.store_id)
    if campaign.pk:
        saved = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if saved.status != CampaignStatus.DRAFT and (
            saved.segment_id != campaign.segment_id
            or saved.sms_template_id != campaign.sms_template_id
            or saved.sms_params != campaign.sms_params
        ):
            raise ValidationError(
                {"segment": _("A launched campaign keeps its members and its message.")}
            )
    else:
        campaign.created_by = actor
        campaign.status = CampaignStatus.DRAFT
    campaign.sms_params = validate_params(campaign.sms_params or [])
    if campaign.segment_id and campaign.segment.store_id != campaign.store_id:
        raise ValidationError({"segment": _("Choose a segment of the campaign's store.")})
    if campaign.team_id and campaign.team.store_id != campaign.store_id:
        raise ValidationError({"team": _("Choose a team of the campaign's store.")})
    if campaign.starts_on and campaign.ends_on and campaign.ends_on < campaign.starts_on:
        raise ValidationError({"ends_on": _("The campaign ends before it starts.")})
    campaign.full_clean(exclude=["store", "created_by", "team", "segment", "promoted_models"])
    campaign.save()
    if promoted_models is not None:
        campaign.promoted_models.set(promoted_models)
    audit.record("campaigns.campaign.saved", actor=actor, target=campaign)
    return campaign


def freeze_rows(campaign: Campaign):
    """(customer id, phone, vehicle id) of the segment's customers now: the
    primary number, and the newest vehicle that matches the filters."""
    filters = campaign.segment.filters
    phone = (
        CustomerPhone.objects.filter(customer=OuterRef("pk"))
        .order_by("-is_primary", "pk")
        .values("number")[:1]
    )
    vehicle = (
        OwnedVehicle.objects.filter(customer=OuterRef("pk"))
        .filter(segments.vehicle_q(filters))
        .order_by("-delivered_on", "-pk")
        .values("pk")[:1]
    )
    return (
        segments.customers(campaign.store, filters)
        .annotate(member_phone=Subquery(phone), member_vehicle=Subquery(vehicle))
        .filter(member_phone__isnull=False)
        .order_by("pk")
        .values_list("pk", "member_phone", "member_vehicle")
    )


def campaign_launch(*, actor, campaign: Campaign, now=None) -> CampaignRound:
    """Freeze the segment's customers as the campaign's members and plan its
    first SMS round, sent after commit. Launching twice launches once."""
    require(actor, "campaigns.manage")
    _require_store(actor, campaign.store_id)
    now = now or timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status != CampaignStatus.DRAFT:
            raise ValidationError({"status": _("This campaign has already been launched.")})
        errors = {}
        if campaign.segment_id is None:
            errors["segment"] = _("Choose the target segment.")
        if not campaign.sms_template_id:
            errors["sms_template_id"] = _("Enter the provider's approved template id.")
        if errors:
            raise ValidationError(errors)
        batch = []
        for customer_id, phone, vehicle_id in freeze_rows(campaign).iterator(
            chunk_size=MEMBER_CHUNK
        ):
            batch.append(
                CampaignMember(
                    campaign=campaign, customer_id=customer_id, phone=phone, vehicle_id=vehicle_id
                )
            )
            if len(batch) >= MEMBER_CHUNK:
                CampaignMember.objects.bulk_create(batch, ignore_conflicts=True)
                batch = []
        CampaignMember.objects.bulk_create(batch, ignore_conflicts=True)
        if not campaign.members.exists():
            raise ValidationError({"segment": _("The segment has no customers to message.")})
        campaign.status, campaign.launched_at = CampaignStatus.LAUNCHED, now
        campaign.save(update_fields=["status", "launched_at"])
        audit.record(
            "campaigns.campaign.launched",
            actor=actor,
            target=campaign,
            members=campaign.members.count(),
        )
        return round_plan(actor=actor, campaign=campaign, now=now)


def _age_years(since: date | None, today: date) -> str:
    if since is None:
        return ""
    years = today.year - since.year - ((today.month, today.day) < (since.month, since.day))
    return str(max(0, years))


def member_params(campaign: Campaign, row: dict, *, series: str, today: date) -> list[str]:
    values = {
        "name": row["customer__name"],
        "model": row["vehicle__vehicle_model__name"] or row["vehicle__model_name"] or "",
        "plate": row["vehicle__plate"] or "",
        "vehicle_years": _age_years(
            row["vehicle__delivered_on"] or row["vehicle__purchased_on"], today
        ),
        "series": series,
        "campaign": campaign.name,
        "store": campaign.store.name,
        "starts_on": campaign.starts_on.isoformat() if campaign.starts_on else "",
        "ends_on": campaign.ends_on.isoformat() if campaign.ends_on else "",
    }
    return [values[name] for name in campaign.sms_params]


def sendable_members(campaign: Campaign):
    """Members a round may message now: not opted out, in this campaign or
    on the store's list (any campaign's reply, a call, the list)."""
    opted_out = OptOut.objects.filter(store_id=campaign.store_id).values("phone")
    return campaign.members.filter(opted_out_at__isnull=True).exclude(phone__in=opted_out)


def round_plan(*, actor, campaign: Campaign, now=None) -> CampaignRound:
    """The campaign's next SMS round: one outbox message per member who may
    be messaged, in paced slots from ``now``; dispatched after commit."""
    require(actor, "campaigns.manage")
    _require_store(actor, campaign.store_id)
    now = now or timezone.now()
    today = timezone.localdate(now)
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().select_related("store").get(pk=campaign.pk)
        if campaign.status != CampaignStatus.LAUNCHED:
            raise ValidationError({"status": _("Only a launched campaign sends rounds.")})
        unfinished = campaign.rounds.exclude(status=RoundStatus.DONE)
        for previous in unfinished:
            if sms.pending_in_batch(batch_name(previous)):
                raise ValidationError({"round": _("The previous round is still being sent.")})
        number = (
            campaign.rounds.order_by("-number").values_list("number", flat=True).first() or 0
        ) + 1
        round_ = CampaignRound.objects.create(
            campaign=campaign, number=number, planned_at=now, created_by=actor
        )
        series = "、".join(campaign.promoted_models.values_list("name", flat=True))
        members = sendable_members(campaign)
        rows = (
            (
                key(campaign.pk, number, row["pk"]),
                row["phone"],
                member_params(campaign, row, series=series, today=today),
            )
            for row in members.order_by("pk")
            .values(
                "pk",
                "phone",
                "customer__name",
                "vehicle__vehicle_model__name",
                "vehicle__model_name",
                "vehicle__plate",
                "vehicle__delivered_on",
                "vehicle__purchased_on",
            )
            .iterator(chunk_size=MEMBER_CHUNK)
        )
        planned = sms.plan_batch(
            store=campaign.store,
            batch=batch_name(round_),
            kind=SmsKind.CAMPAIGN,
            template_id=campaign.sms_template_id,
            signature=sms.signature_for(campaign.store),
            rows=rows,
            start=now,
        )
        if number == 1:
            link_first_round(campaign)
        round_.planned_count = planned
        round_.skipped_count = campaign.members.count() - planned
        round_.status = RoundStatus.PLANNED
        round_.save(update_fields=["planned_count", "skipped_count", "status"])
        audit.record(
            "campaigns.round.planned",
            actor=actor,
            target=campaign,
            round=number,
            messages=planned,
        )
        enqueue_on_commit(_dispatch_task(), round_.pk)
    return round_


def _dispatch_task():
    from followups.campaigns.tasks import dispatch_round

    return dispatch_round


def batch_name(round_: CampaignRound) -> str:
    return f"campaign:{round_.campaign_id}:round:{round_.number}"


def link_first_round(campaign: Campaign) -> int:
    """Point each member at their first-round message (``member.sms``)."""
    from django.db.models import CharField, Value
    from django.db.models.functions import Cast, Concat

    from followups.models import SmsMessage

    message = SmsMessage.objects.filter(
        idempotency_key=Concat(
            Value(f"campaign:{campaign.pk}:round:1:member:"),
            Cast(OuterRef("pk"), CharField()),
            output_field=CharField(),
        )
    ).values("pk")[:1]
    return campaign.members.filter(sms__isnull=True).update(sms=Subquery(message))


def round_dispatch(round_id: int, *, chunk: int = 1000) -> int:
    """Hand a planned round's pending messages to workers, one task per
    range (each sends at the messages' paced slots). Safe to repeat: a
    message is claimed before it is sent. Returns the number of tasks."""
    from followups.tasks import send_sms_batch

    round_ = CampaignRound.objects.get(pk=round_id)
    batch = batch_name(round_)
    ranges = sms.batch_ranges(batch, size=chunk)
    with transaction.atomic():
        CampaignRound.objects.filter(pk=round_id).exclude(status=RoundStatus.DONE).update(
            status=RoundStatus.DISPATCHING, dispatched_at=timezone.now()
        )
        for first_id, last_id in ranges:
            enqueue_on_commit(send_sms_batch, batch, first_id, last_id)
    return len(ranges)


def rounds_finish() -> int:
    """Rounds whose messages have all left the pending state are done."""
    finished = 0
    for round_ in CampaignRound.objects.filter(status=RoundStatus.DISPATCHING):
        if not sms.pending_in_batch(batch_name(round_)):
            finished += CampaignRound.objects.filter(
                pk=round_.pk, status=RoundStatus.DISPATCHING
            ).update(status=RoundStatus.DONE)
    return finished


@transaction.atomic
def campaign_close(*, actor, campaign: Campaign) -> Campaign:
    require(actor, "campaigns.manage")
    _require_store(actor, campaign.store_id)
    updated = Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.LAUNCHED).update(
        status=CampaignStatus.CLOSED
    )
    if not updated:
        raise ValidationError({"status": _("Only a launched campaign can be closed.")})
    audit.record("campaigns.campaign.closed", actor=actor, target=campaign)
    campaign.refresh_from_db()
    return campaign


# ---------------------------------------------------------------- replies (receivers)


def member_replied(*, reply, opt_out: bool) -> int:
    """A reply from a member's number (the latest reply counts): every
    launched campaign of the store with that number marks it; an opt-out
    marks them opted out."""
    members = CampaignMember.objects.filter(
        campaign__store_id=reply.store_id,
        phone=reply.phone,
        # The push carries whole seconds: a reply within the launch's second counts.
        campaign__launched_at__lt=reply.received_at + timedelta(seconds=1),
    )
    updated = members.filter(replied_at__isnull=True).update(
        replied_at=reply.received_at, reply_text=reply.text[:2000]
    )
    if opt_out:
        members.filter(opted_out_at__isnull=True).update(opted_out_at=reply.received_at)
    return updated
