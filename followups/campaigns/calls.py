"""A campaign's call list (issue 18, point 5).

After the SMS round and the campaign's delay, the members to call (those
who did not reply, everyone, or the chosen group: ``Campaign.call_target``)
become call tasks: each gets a caller of the campaign's team (evenly, the
least loaded first) and a due time. Generating twice adds nothing: a member
is given a caller once (a conditional UPDATE on ``call_due_at IS NULL``),
under a lock on the campaign row.

A call that finds nobody counts an attempt and brings the member back after
the store's retry interval; at the campaign's cap (default 3) the member is
"unreachable". A call that reaches the customer ends the task with its
outcome: interested (a lead, source repurchase, the campaign named on it
through the member, the owned vehicle as its trade-in), not interested,
opt-out (the store's opt-out list) or wrong number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from dcc import audit
from dcc.models import User
from dcc.policy import can, require
from dcc.roles import Role
from followups.campaigns.models import (
    CallOutcome,
    CallTarget,
    Campaign,
    CampaignMember,
    CampaignStatus,
)
from followups.campaigns.models_outreach import CallResult, CampaignCall
from followups.models import FollowupPolicy
from leads import owners
from leads import services as lead_services
from leads.models import OptOutReason, Source

CALLER_ROLES = (Role.AGENT, Role.CALLER)
# A member whose call is over: an outcome is set (unreachable included).
OPEN_CALL = Q(call_outcome="")


def callers_for(campaign: Campaign) -> list[User]:
    """Who works the campaign's list: the owning team's agents and callers
    (the store's when the campaign names no team), active, by id."""
    staff = User.objects.active().filter(store_id=campaign.store_id, role__in=CALLER_ROLES)
    if campaign.team_id:
        staff = staff.filter(team_id=campaign.team_id)
    return list(staff.order_by("pk"))


def call_start(campaign: Campaign) -> datetime | None:
    """When the campaign's calls may start: its delay after the first round
    went out (None while no round went out)."""
    dispatched = (
        campaign.rounds.filter(dispatched_at__isnull=False)
        .order_by("dispatched_at")
        .values_list("dispatched_at", flat=True)
        .first()
    )
    if dispatched is None:
        return None
    return dispatched + timedelta(hours=campaign.call_delay_hours)


def _targets(campaign: Campaign):
    """The members the campaign's call target names, not yet on the list and
    not opted out (by a reply, or on the store's list since the launch)."""
    members = (
        campaign.members.filter(call_due_at__isnull=True, opted_out_at__isnull=True)
        .filter(OPEN_CALL)
        .exclude(phone__in=owners.opted_out_phones(campaign.store))
    )
    if campaign.call_target == CallTarget.NON_REPLIERS:
        members = members.filter(replied_at__isnull=True)
    return members


@dataclass
class Generated:
    campaign_id: int
    added: int
    callers: int


def generate_for_campaign(campaign_id: int, *, now: datetime | None = None) -> Generated:
    """Put the campaign's due members on its callers' lists (the call
    target's members, once the delay after the first round has passed).
    Idempotent: run twice (or by two workers at once), each member is given
    one caller once. A campaign calling "a chosen group" calls only the
    members a manager chooses (``call_group``)."""
    now = now or timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None or campaign.status != CampaignStatus.LAUNCHED:
            return Generated(campaign_id, 0, 0)
        if campaign.call_target == CallTarget.GROUP:
            return Generated(campaign_id, 0, 0)
        start = call_start(campaign)
        if start is None or start > now:
            return Generated(campaign_id, 0, 0)
        return _assign(campaign, _targets(campaign), now=now, actor=None)


@transaction.atomic
def call_group(*, actor, campaign: Campaign, member_ids, now: datetime | None = None) -> Generated:
    """A manager chooses members to call (whatever the call target): they
    go on the callers' lists now, evenly, unless already there."""
    require(actor, "campaigns.manage")
    campaign = Campaign.objects.visible_to(actor).select_for_update().filter(pk=campaign.pk).first()
    if campaign is None:
        raise PermissionDenied("campaign outside the actor's scope")
    if campaign.status != CampaignStatus.LAUNCHED:
        raise ValidationError(_("Only a launched campaign has call lists."))
    members = _targets(campaign).filter(pk__in=list(member_ids))
    return _assign(campaign, members, now=now or timezone.now(), actor=actor)


def _assign(campaign: Campaign, members, *, now: datetime, actor) -> Generated:
    """Give each of ``members`` a caller, evenly: each goes to the caller
    with the fewest members of this campaign so far (the campaign row is
    locked by the caller of this function)."""
    callers = callers_for(campaign)
    if not callers:
        return Generated(campaign.pk, 0, 0)
    ids = list(members.order_by("pk").values_list("pk", flat=True))
    if not ids:
        return Generated(campaign.pk, 0, len(callers))
    load = dict(
        campaign.members.filter(caller__in=callers)
        .values_list("caller")
        .annotate(n=Count("pk"))
        .order_by()
    )
    batches: dict[int, list[int]] = {caller.pk: [] for caller in callers}
    for member_id in ids:
        caller_id = min(batches, key=lambda pk: (load.get(pk, 0) + len(batches[pk]), pk))
        batches[caller_id].append(member_id)
    added = 0
    for caller_id, member_ids in batches.items():
        if member_ids:
            added += CampaignMember.objects.filter(
                pk__in=member_ids, call_due_at__isnull=True
            ).update(caller_id=caller_id, call_due_at=now)
    if added:
        audit.record(
            "campaigns.calls.generated",
            actor=actor,
            target=campaign,
            store=campaign.store,
            added=added,
            callers=len(callers),
        )
    return Generated(campaign.pk, added, len(callers))


def due_campaign_ids(*, now: datetime) -> list[int]:
    """Launched campaigns that may have members to put on a call list."""
    return list(
        Campaign.objects.filter(status=CampaignStatus.LAUNCHED, rounds__dispatched_at__isnull=False)
        .exclude(call_target=CallTarget.GROUP)
        .distinct()
        .values_list("pk", flat=True)
    )


def generate_due(*, now: datetime | None = None) -> int:
    """Every launched campaign's due call tasks (the beat task)."""
    now = now or timezone.now()
    return sum(generate_for_campaign(pk, now=now).added for pk in due_campaign_ids(now=now))


# ---------------------------------------------------------------- the caller's list


def open_calls_for(user, *, now: datetime | None = None):
    """The caller's members to call now, the most overdue first."""
    now = now or timezone.now()
    return (
        CampaignMember.objects.visible_to(user)
        .filter(caller=user, call_due_at__lte=now, campaign__status=CampaignStatus.LAUNCHED)
        .filter(OPEN_CALL)
        .select_related("campaign", "customer", "vehicle", "vehicle__vehicle_model")
        .order_by("call_due_at", "pk")
    )


def for_caller(user, *, now: datetime | None = None, limit: int = 20) -> dict:
    """The queue's campaign-call section: the first rows and how many in all."""
    if not can(user, "campaigns.call"):
        return {"rows": [], "count": 0}
    calls = open_calls_for(user, now=now)
    rows = list(calls[:limit])
    # One query unless the list is longer than the section shows.
    return {"rows": rows, "count": len(rows) if len(rows) < limit else calls.count()}


# ---------------------------------------------------------------- one call


def _retry_after(store_id: int) -> timedelta:
    return timedelta(hours=FollowupPolicy.objects.for_store(store_id).retry_no_answer_hours)


@transaction.atomic
def call_record(
    *, actor, member: CampaignMember, outcome: str, note: str = "", now: datetime | None = None
) -> CampaignCall:
    """Log one call to a member of the actor's list and apply its outcome."""
    require(actor, "campaigns.call")
    now = now or timezone.now()
    if outcome not in CallResult.values:
        raise ValidationError({"outcome": [_("Unknown outcome.")]})
    member = (
        CampaignMember.objects.select_for_update(of=("self",))
        .select_related("campaign__store", "customer", "vehicle")
        .get(pk=member.pk)
    )
    if member.caller_id != actor.pk:
        raise PermissionDenied("not on the actor's call list")
    if member.call_outcome:
        raise ValidationError(_("This member's call is already closed."))
    campaign = member.campaign
    call = CampaignCall.objects.create(
        member=member, caller=actor, called_at=now, outcome=outcome, note=note
    )
    fields = {"call_attempts": F("call_attempts") + 1}
    if outcome == CallResult.NO_ANSWER:
        if member.call_attempts + 1 >= campaign.attempt_cap:
            fields.update(call_outcome=CallOutcome.UNREACHABLE, outcome_at=now)
        else:
            fields.update(call_due_at=now + _retry_after(campaign.store_id))
    else:
        fields.update(call_outcome=outcome, outcome_at=now)
        if outcome == CallResult.INTERESTED:
            fields["lead"] = _lead_for(actor=actor, member=member, note=note)
        elif outcome == CallResult.OPT_OUT:
            # The customer's own wish, said on the call (the caller may not
            # edit the store's list: the call's audit event names them).
            owners.opt_out(
                store=campaign.store,
                phone=member.phone,
                reason=OptOutReason.CALL,
                note=note or _("Asked on a call by %(name)s.") % {"name": actor.display_name},
            )
            fields["opted_out_at"] = now
    CampaignMember.objects.filter(pk=member.pk).update(**fields)
    audit.record(
        "campaigns.call.logged",
        actor=actor,
        target=member,
        store=campaign.store,
        outcome=outcome,
    )
    return call


def _lead_for(*, actor, member: CampaignMember, note: str):
    """The interested member's lead: a new one (source repurchase, owned by
    the caller, the vehicle they own as its trade-in), or the open lead the
    store already has for the number."""
    campaign = member.campaign
    promoted = campaign.promoted_models.order_by("pk").first()
    try:
        return lead_services.lead_create(
            actor=actor,
            store=campaign.store,
            name=member.customer.name,
            phone=member.phone,
            source=Source.REPURCHASE,
            intended_model=promoted,
            owner=actor,
            note=note or _("Campaign: %(name)s") % {"name": campaign.name},
            trade_in=member.vehicle,
        )
    except lead_services.DuplicateLead as exc:
        return exc.existing
