"""The pool (公海): leads taken from owners who did not work them, waiting for
someone else to (DESIGN §2, issue 17).

* ``send_to_pool``: the store's rules (``followups.pool`` decides which
  leads, by the store's settings) move leads here, set-based: the leads are
  locked and updated in a few statements per batch, with one history row
  each, a ``PoolEvent`` and an audit event.
* ``claim``: an agent takes one. The claim is ONE conditional UPDATE (the
  lead is still in the pool and ownerless), so of any number of agents
  clicking at once exactly one gets it; the others are told it is gone.
  The daily cap counts the agent's claims under a lock on the agent's row.
* ``redistribute``: a supervisor gives pool leads to their team, a manager
  to anyone in the store, by the same conditional update.

A claimed or redistributed lead's first-contact clock restarts when the
store says so (``services._restart_clock``, the transfer window).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_update_with_history

from dcc import audit
from dcc.models import User
from dcc.policy import require
from dcc.timeutils import local_day_start
from leads import events, lifecycle
from leads.lifecycle import LeadStateError
from leads.models import OPEN_STATUSES, Lead, PoolEvent, PoolEventKind, PoolReason
from leads.services import _restart_clock, check_owner, check_team_receiver

BATCH = 500


def send_to_pool(lead_ids, *, reason: str, now=None, actor=None) -> int:
    """Take the given open, owned leads from their owners into the pool.
    Leads another transaction holds are left for the next sweep (SKIP
    LOCKED: a sweep never waits on an agent's call). Returns how many."""
    if reason not in PoolReason.values:
        raise ValueError(f"unknown pool reason {reason!r}")
    now = now or timezone.now()
    label = PoolReason(reason).label
    ids = list(lead_ids)
    moved = 0
    for start in range(0, len(ids), BATCH):
        with transaction.atomic():
            leads = list(
                Lead.objects.filter(
                    pk__in=ids[start : start + BATCH],
                    status__in=OPEN_STATUSES,
                    owner__isnull=False,
                    pooled_at__isnull=True,
                ).select_for_update(skip_locked=True)
            )
            if not leads:
                continue
            previous = {lead.pk: lead.owner_id for lead in leads}
            for lead in leads:
                lead.owner = None
                lead.pooled_at = now
                lead.pool_reason = reason
                lead.escalated_at = None
                lead.updated_at = now
            bulk_update_with_history(
                leads,
                Lead,
                ["owner", "pooled_at", "pool_reason", "escalated_at", "updated_at"],
                batch_size=BATCH,
                default_user=actor,
                default_change_reason=str(label),
                default_date=now,
            )
            PoolEvent.objects.bulk_create(
                [
                    PoolEvent(
                        store_id=lead.store_id,
                        lead=lead,
                        kind=PoolEventKind.POOLED,
                        staff_id=previous[lead.pk],
                        actor=actor,
                        reason=reason,
                        created_at=now,
                    )
                    for lead in leads
                ]
            )
            audit.record_many(
                "leads.pool.pooled",
                actor=actor,
                model=Lead,
                rows=[
                    (
                        lead.pk,
                        lead.store_id,
                        {"previous": previous[lead.pk], "reason": reason},
                    )
                    for lead in leads
                ],
            )
            # Owner changes reattribute a lead's work: the KPIs' stored months recount.
            events.leads_changed.send(
                sender=Lead, leads=leads, since=min(lead.received_at for lead in leads)
            )
            moved += len(leads)
    return moved


def claims_today(user, *, now=None) -> int:
    day_start = local_day_start(timezone.localdate(now or timezone.now()))
    return PoolEvent.objects.filter(
        staff=user, kind=PoolEventKind.CLAIMED, created_at__gte=day_start
    ).count()


def _take(lead_id: int, owner: User, *, store_id, now) -> bool:
    """The one conditional UPDATE: the lead becomes ``owner``'s if, at this
    instant, it is still open, ownerless and in the pool."""
    return bool(
        Lead.objects.filter(
            pk=lead_id,
            store_id=store_id,
            owner__isnull=True,
            pooled_at__isnull=False,
            status__in=OPEN_STATUSES,
        ).update(owner=owner, pool_claimed_at=now, updated_at=now)
    )


def _after_take(
    lead_id: int, owner: User, *, actor, kind: str, reason: str, restart_clock: bool, now
) -> Lead:
    """The taken lead (locked by the update, which left ``pooled_at`` for
    this step to read the wait and clear): the clock, the history row, the
    pool event and the audit."""
    lead = Lead.objects.select_related("store").get(pk=lead_id)
    pooled_at, pool_reason = lead.pooled_at, lead.pool_reason
    lead.pooled_at, lead.pool_reason = None, ""
    if restart_clock:
        _restart_clock(lead, now)
    lifecycle.save(lead, actor=actor, reason=reason)
    events.leads_changed.send(sender=Lead, leads=[lead], since=lead.received_at)
    waited = int((now - pooled_at).total_seconds()) if pooled_at else None
    PoolEvent.objects.create(
        store_id=lead.store_id,
        lead=lead,
        kind=kind,
        staff=owner,
        actor=actor,
        reason=reason[:200],
        waited_seconds=waited if waited is None or waited >= 0 else 0,
        created_at=now,
    )
    audit.record(
        f"leads.pool.{kind}",
        actor=actor,
        target=lead,
        owner=owner.pk,
        pool_reason=pool_reason,
        restart_clock=restart_clock,
        reason=reason,
    )
    return lead


@transaction.atomic
def claim(*, actor, lead_id: int, daily_cap: int, restart_clock: bool, now=None) -> Lead:
    """An agent claims a pool lead of their store. ``LeadStateError`` when it
    is gone (someone else was faster), ``ValidationError`` over the cap."""
    require(actor, "leads.pool.claim")
    now = now or timezone.now()
    # The agent's own claims are counted one after another (their row locked).
    list(User.objects.select_for_update().filter(pk=actor.pk).order_by().values_list("pk"))
    if daily_cap and claims_today(actor, now=now) >= daily_cap:
        raise ValidationError(
            _("You have claimed %(cap)s leads from the pool today, the store's limit.")
            % {"cap": daily_cap}
        )
    if not _take(lead_id, actor, store_id=actor.store_id, now=now):
        raise LeadStateError(_("This lead is no longer in the pool."))
    return _after_take(
        lead_id,
        actor,
        actor=actor,
        kind=PoolEventKind.CLAIMED,
        reason=_("claimed from the pool"),
        restart_clock=restart_clock,
        now=now,
    )


@transaction.atomic
def redistribute(
    *, actor, lead_ids: list[int], owner: User, reason: str, restart_clock: bool, now=None
) -> tuple[list[Lead], list[int]]:
    """A supervisor (to their team) or a manager (to the store's staff)
    gives pool leads to ``owner``. Returns the leads given and the ids that
    were no longer in the pool."""
    require(actor, "leads.pool.redistribute")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give a reason: it is kept in the lead's history.")})
    now = now or timezone.now()
    pool = Lead.objects.pool_for(actor).filter(pk__in=lead_ids).select_related("store")
    given, gone = [], []
    found = {lead.pk: lead for lead in pool}
    for lead_id in lead_ids:
        lead = found.get(lead_id)
        if lead is None:
            gone.append(lead_id)
            continue
        check_owner(owner, store=lead.store, lead=lead)
        check_team_receiver(actor, owner)
        if not _take(lead_id, owner, store_id=lead.store_id, now=now):
            gone.append(lead_id)
            continue
        given.append(
            _after_take(
                lead_id,
                owner,
                actor=actor,
                kind=PoolEventKind.REDISTRIBUTED,
                reason=reason,
                restart_clock=restart_clock,
                now=now,
            )
        )
    return given, gone


def pool_figures(leads, events, *, now, since) -> dict:
    """The dashboard's pool figures from a scoped pool queryset and pool
    events: size, the oldest wait, claims and pooled since ``since``. Two
    aggregate queries."""
    pool = leads.aggregate(size=Count("id"), oldest=Min("pooled_at"))
    moves = events.filter(created_at__gte=since).aggregate(
        claimed=Count("id", filter=Q(kind=PoolEventKind.CLAIMED)),
        redistributed=Count("id", filter=Q(kind=PoolEventKind.REDISTRIBUTED)),
        pooled=Count("id", filter=Q(kind=PoolEventKind.POOLED)),
    )
    oldest = pool["oldest"]
    return {
        "size": pool["size"],
        "oldest_hours": int((now - oldest).total_seconds() // 3600) if oldest else None,
        **moves,
    }
