"""The store's pool rules (公海) and assignment windows: which leads the
periodic sweeps move, by each store's ``FollowupPolicy``; the moves
themselves are leads' (``leads.pool``, ``leads.distribution``).

A new or active lead of an agent or caller goes to the pool (each rule
optional per store):

* its first-contact deadline passed unmet;
* it has had at least N unanswered attempts;
* its next follow-up is overdue by more than D days.

Each rule looks only at what happened since the lead was last claimed from
the pool, so a lead claimed without a new clock (the store's choice) is not
sent straight back by the same missed deadline.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import F, Q
from django.utils import timezone

from dcc.models import Store
from dcc.roles import Role
from dcc.timeutils import local_day_start
from followups.models import FollowupPolicy, parse_time_list
from leads import distribution, pool
from leads.models import Lead, LeadRules, PoolReason, Status

# Only leads not yet worked into a relationship go to the pool: a booked
# visit, a visit made, an order or a defeat awaiting approval stay with
# their owner. And only from the DCC's agents and callers: a showroom
# consultant's customers are not the DCC's to recycle.
POOLABLE_STATUSES = (Status.NEW, Status.ACTIVE)
POOLED_FROM_ROLES = (Role.AGENT, Role.CALLER)


def _since_claim(field: str) -> Q:
    return Q(pool_claimed_at__isnull=True) | Q(pool_claimed_at__lt=F(field))


def rules_of(policy: FollowupPolicy, now: datetime) -> list[tuple[str, Q]]:
    """The store's pool rules as (reason, which leads) pairs."""
    rules = []
    if policy.pool_on_first_contact:
        rules.append(
            (
                PoolReason.FIRST_CONTACT,
                LeadRules.first_contact_due_before(now) & _since_claim("first_contact_due"),
            )
        )
    if policy.pool_after_unanswered:
        rules.append(
            (
                PoolReason.UNANSWERED,
                Q(unanswered_attempts__gte=policy.pool_after_unanswered)
                & _since_claim("last_attempt_at"),
            )
        )
    if policy.pool_overdue_days:
        cutoff = now - timedelta(days=policy.pool_overdue_days)
        rules.append(
            (
                PoolReason.OVERDUE,
                Q(next_followup_at__lt=cutoff)
                & (Q(pool_claimed_at__isnull=True) | Q(pool_claimed_at__lt=cutoff)),
            )
        )
    return rules


def sweep_to_pool(*, now=None) -> int:
    """Send every store's leads that meet its pool rules to the pool: per
    store and rule one query for the ids, then ``leads.pool.send_to_pool``
    in batches. Returns how many moved."""
    now = now or timezone.now()
    moved = 0
    policies = FollowupPolicy.objects.filter(
        Q(pool_on_first_contact=True) | Q(pool_after_unanswered__gt=0) | Q(pool_overdue_days__gt=0)
    ).filter(store__is_active=True)
    for policy in policies:
        for reason, which in rules_of(policy, now):
            ids = list(
                Lead.objects.filter(
                    store_id=policy.store_id,
                    status__in=POOLABLE_STATUSES,
                    owner__role__in=POOLED_FROM_ROLES,
                    pooled_at__isnull=True,
                )
                .filter(which)
                .values_list("pk", flat=True)
            )
            moved += pool.send_to_pool(ids, reason=reason, now=now)
    return moved


def claim(*, actor, lead_id: int):
    """An agent claims a pool lead under their store's cap and clock rule."""
    policy = FollowupPolicy.objects.for_store(actor.store_id)
    return pool.claim(
        actor=actor,
        lead_id=lead_id,
        daily_cap=policy.pool_claims_per_day,
        restart_clock=policy.pool_claim_restarts_clock,
    )


def redistribute(*, actor, lead_ids: list[int], owner, reason: str):
    """A supervisor or manager gives pool leads to someone, the clock as
    the store sets it for a claim."""
    policy = FollowupPolicy.objects.for_store(owner.store_id)
    return pool.redistribute(
        actor=actor,
        lead_ids=lead_ids,
        owner=owner,
        reason=reason,
        restart_clock=policy.pool_claim_restarts_clock,
    )


def last_window(policy: FollowupPolicy, now: datetime) -> datetime | None:
    """The latest of the store's assignment windows passed today, or None."""
    local = timezone.localtime(now)
    day_start = local_day_start(local.date())
    passed = [
        day_start + timedelta(hours=moment.hour, minutes=moment.minute)
        for moment in parse_time_list(policy.assignment_windows)
    ]
    passed = [moment for moment in passed if moment <= now]
    return passed[-1] if passed else None


def flag_unassigned(*, now=None) -> int:
    """Flag, per store, the manufacturer leads received before the latest
    assignment window passed today that nobody has taken yet (DOSS expects
    them assigned by morning and afternoon). Returns how many."""
    now = now or timezone.now()
    windows = FollowupPolicy.objects.value_by_store("assignment_windows")
    flagged = 0
    for store in Store.objects.filter(is_active=True).only("pk"):
        policy = FollowupPolicy(store_id=store.pk, assignment_windows=windows[store.pk])
        cutoff = last_window(policy, now)
        if cutoff is not None:
            flagged += distribution.flag_unassigned(store=store, received_before=cutoff, now=now)
    return flagged
