"""Reads of leads, always through the policy's scope."""

from itertools import chain

from django.contrib.contenttypes.models import ContentType

from dcc.models import AuditEvent
from leads.models import Customer, Lead


def leads_for(*, user):
    """The lead list's queryset: scoped, with what a row shows in one query."""
    return Lead.objects.visible_to(user).select_related(
        "customer", "owner", "channel", "intended_model", "store"
    )


def lead_timeline(*, lead: Lead) -> list[dict]:
    """Everything that happened to a lead, newest first: field changes from its
    history (with who and why) and the audit events about it. Later apps add
    follow-ups, appointments and calls here."""
    entries = []
    history = lead.history.select_related("history_user").order_by("history_date")
    previous = None
    for record in history:
        changes = []
        if previous is not None:
            delta = record.diff_against(previous)
            changes = [
                {
                    "field": lead._meta.get_field(change.field).verbose_name,
                    "old": change.old,
                    "new": change.new,
                }
                for change in delta.changes
            ]
        if previous is None or changes:
            entries.append(
                {
                    "kind": "history",
                    "at": record.history_date,
                    "actor": record.history_user,
                    "created": previous is None,
                    "changes": changes,
                    "reason": record.history_change_reason or "",
                }
            )
        previous = record
    events = AuditEvent.objects.filter(
        target_type=ContentType.objects.get_for_model(Lead), target_id=lead.pk
    ).select_related("actor")
    entries.extend(
        {
            "kind": "event",
            "at": event.created_at,
            "actor": event.actor,
            "name": event.name,
            "data": event.data,
        }
        for event in events
    )
    return sorted(entries, key=lambda entry: entry["at"], reverse=True)


def customer_leads(*, user, customer: Customer):
    """The customer's other leads that ``user`` may see (a base customer's past)."""
    return leads_for(user=user).filter(customer=customer).order_by("-received_at")


def merged_customer_ids(customer: Customer) -> list[int]:
    return list(chain([customer.pk], customer.merged_from.values_list("pk", flat=True)))


def last_defeat_rejection(lead: Lead):
    """The manager's latest rejection of a defeat request on ``lead`` (the
    audit event: who, when, the note), if no later request followed it; else
    None. The agent's lead page shows it."""
    events = AuditEvent.objects.filter(
        target_type=ContentType.objects.get_for_model(Lead),
        target_id=lead.pk,
        name__in=("leads.lead.defeat_rejected", "leads.lead.defeat_requested"),
    ).select_related("actor")
    last = events.order_by("-created_at", "-pk").first()
    if last is None or last.name != "leads.lead.defeat_rejected":
        return None
    return {"at": last.created_at, "actor": last.actor, "note": last.data.get("note", "")}


def referral_count(*, customer: Customer) -> int:
    """How many leads of the customer's store name them as their referrer
    (转介绍): a number on the lead page, never the leads themselves."""
    return Lead.objects.filter(store_id=customer.store_id, referred_by=customer).count()
