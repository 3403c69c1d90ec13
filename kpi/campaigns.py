"""The campaign funnel (issue 18, point 7), per campaign and per caller.

Every step is a condition on a campaign member (``STEPS``), so a number and
the members it drills down to are the same filter: the funnel is one
aggregate query (a filtered ``COUNT`` per step, grouped by caller for the
per-caller table) and the drill-down lists ``members(...).filter(step)``.

- members: frozen at launch;
- SMS sent / delivered: the round's message went out / its delivery
  receipt said delivered;
- replied: the member answered the SMS;
- called / reached: at least one call logged / one that reached them
  (any outcome but "no answer");
- leads: the call (or the event) made a lead;
- invited: invited to an event (or marked invited by the caller);
- visited: their lead had a store visit (an arrival recorded), or they
  checked in at an event;
- deals: their lead has a deal (an order or a delivery);
- events: RSVPs (answered yes) and attended (checked in).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from followups.campaigns.models import Campaign, CampaignMember
from followups.campaigns.models_outreach import (
    REACHED_OUTCOMES,
    CampaignCall,
    EventInvitation,
    Rsvp,
)
from followups.models import Appointment
from leads.models import Deal


@dataclass(frozen=True)
class Step:
    key: str
    label: str


def step_conditions(campaigns) -> dict[str, Q]:
    """Each step's condition on a member of ``campaigns`` (a list of
    campaigns). The related rows are uncorrelated ``IN`` subqueries narrowed
    to those campaigns (and their stores), which PostgreSQL evaluates once
    and hashes, instead of one probe per member and step."""
    ids = [campaign.pk for campaign in campaigns]
    stores = {campaign.store_id for campaign in campaigns}
    calls = CampaignCall.objects.filter(member__campaign__in=ids)
    invitations = EventInvitation.objects.filter(member__campaign__in=ids)

    def members_of(queryset):
        return Q(pk__in=queryset.values("member_id"))

    checked_in = members_of(invitations.filter(checked_in_at__isnull=False))
    return {
        "members": Q(pk__isnull=False),
        "sms_sent": Q(sms__sent_at__isnull=False),
        "delivered": Q(sms__delivered_at__isnull=False),
        "replied": Q(replied_at__isnull=False),
        "called": members_of(calls),
        "reached": members_of(calls.filter(outcome__in=REACHED_OUTCOMES)),
        "leads": Q(lead__isnull=False),
        "invited": Q(invited=True) | members_of(invitations),
        "visited": Q(
            lead__in=Appointment.objects.filter(store__in=stores, arrived_at__isnull=False).values(
                "lead_id"
            )
        )
        | checked_in,
        "deals": Q(lead__in=Deal.objects.filter(store__in=stores).values("lead_id")),
        "rsvps": members_of(invitations.filter(rsvp=Rsvp.YES)),
        "attended": checked_in,
    }


STEPS = (
    Step("members", _("Members")),
    Step("sms_sent", _("SMS sent")),
    Step("delivered", _("SMS delivered")),
    Step("replied", _("Replied")),
    Step("called", _("Called")),
    Step("reached", _("Reached")),
    Step("leads", _("Leads")),
    Step("invited", _("Invited")),
    Step("visited", _("Visited")),
    Step("deals", _("Deals")),
    Step("rsvps", _("Event RSVPs")),
    Step("attended", _("Attended")),
)
STEP_KEYS = tuple(step.key for step in STEPS)


def campaigns_for(user):
    return Campaign.objects.visible_to(user)


def members(campaign: Campaign, *, user):
    """The campaign's members the user may see."""
    return CampaignMember.objects.visible_to(user).filter(campaign=campaign)


def _counts(campaign: Campaign, queryset, *, group: str | None = None):
    conditions = step_conditions([campaign])
    counts = {key: Count("pk", filter=conditions[key]) for key in STEP_KEYS}
    if group is None:
        return queryset.order_by().aggregate(**counts)
    return list(queryset.values(group).annotate(**counts).order_by(group))


def funnel(campaign: Campaign, *, user) -> dict[str, int]:
    """The campaign's funnel over the members the user may see: one query."""
    return _counts(campaign, members(campaign, user=user))


def funnel_by_caller(campaign: Campaign, *, user) -> list[dict]:
    """The funnel per caller (members not yet on a list: caller None): one
    query, then the callers' names."""
    from dcc.models import User

    rows = _counts(campaign, members(campaign, user=user), group="caller")
    names = {u.pk: u.display_name for u in User.objects.filter(pk__in=[r["caller"] for r in rows])}
    for row in rows:
        row["name"] = names.get(row["caller"]) or str(_("Not on a call list"))
    return rows


def drill(campaign: Campaign, *, user, step: str, caller: int | None = None):
    """The members behind one number of the funnel."""
    if step not in STEP_KEYS:
        raise KeyError(step)
    rows = members(campaign, user=user).filter(step_conditions([campaign])[step])
    if caller is not None:
        rows = rows.filter(caller_id=caller) if caller else rows.filter(caller__isnull=True)
    return rows.select_related("customer", "caller", "lead", "vehicle").order_by("pk")


def rate(part: int, whole: int):
    return None if not whole else round(100 * part / whole, 1)


def dashboard_figures(*, user, limit: int = 5) -> list[dict]:
    """The launched campaigns' headline figures for the dashboard: members,
    reached, leads, visited and deals of each, one grouped query."""
    shown = ("members", "reached", "leads", "visited", "deals")
    campaigns = list(
        campaigns_for(user).filter(status="launched").order_by("-launched_at", "-pk")[:limit]
    )
    conditions = step_conditions(campaigns)
    rows = (
        CampaignMember.objects.visible_to(user)
        .filter(campaign__in=campaigns)
        .values("campaign")
        .annotate(**{key: Count("pk", filter=conditions[key]) for key in shown})
        .order_by()
    )
    by_campaign = {row.pop("campaign"): row for row in rows}
    return [
        {
            "campaign": campaign,
            **{key: by_campaign.get(campaign.pk, {}).get(key, 0) for key in shown},
        }
        for campaign in campaigns
    ]
