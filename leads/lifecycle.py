"""The lead lifecycle: the declared way any app locks, moves, saves and
fetches a lead (DESIGN §2, the A-card → B-card → C-card statuses).

The services of leads and of the apps above it (follow-ups, visits, deals,
telephony) change a lead only through these functions, so that every change
checks the one transition table, announces a closing lead once
(``leads.events.lead_closed``) and leaves a history row with its actor and
reason. A caller holds the transaction: ``lock`` must run inside one.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from dcc import audit
from leads import events
from leads.models import OPEN_STATUSES, Lead, Status


class LeadStateError(Exception):
    """The lead's current state does not allow this change."""


_ANY_OPEN = set(OPEN_STATUSES)
TRANSITIONS: dict[str, set[str]] = {
    Status.NEW: _ANY_OPEN | {Status.DELIVERED, Status.DEFEATED, Status.INVALID},
    Status.ACTIVE: _ANY_OPEN | {Status.DELIVERED, Status.DEFEATED, Status.INVALID},
    Status.INVITED: _ANY_OPEN | {Status.DELIVERED, Status.DEFEATED, Status.INVALID},
    Status.VISITED: _ANY_OPEN | {Status.DELIVERED, Status.DEFEATED, Status.INVALID},
    # An order can still be cancelled (back to following up, or defeated).
    Status.ORDERED: {Status.DELIVERED, Status.ACTIVE, Status.DEFEAT_PENDING, Status.DEFEATED},
    # Approval decides; a rejection returns to where the lead was.
    Status.DEFEAT_PENDING: _ANY_OPEN | {Status.DEFEATED},
    # Only a manager's activation (or a transfer) brings these back.
    Status.DEFEATED: {Status.ACTIVE},
    Status.INVALID: {Status.ACTIVE},
    Status.DELIVERED: set(),
    # Closed for good: its work lives on in the lead it was merged into.
    Status.MERGED: set(),
}
# Any lead may be merged into another (leads.services.lead_merge).
for _allowed in TRANSITIONS.values():
    if _allowed is not TRANSITIONS[Status.MERGED]:
        _allowed.add(Status.MERGED)


def move(lead: Lead, to: str) -> None:
    """Set the lead's status if the table allows it, else ``LeadStateError``
    (never a silent no-op). Leaving the open statuses announces
    ``lead_closed`` in the caller's transaction."""
    if to == lead.status or to not in TRANSITIONS[lead.status]:
        raise LeadStateError(
            _("A lead that is “%(current)s” cannot become “%(target)s”.")
            % {"current": Status(lead.status).label, "target": Status(to).label}
        )
    lead.status = to
    if to not in OPEN_STATUSES:
        events.lead_closed.send(sender=Lead, lead=lead, status=to)


def lock(lead: Lead) -> Lead:
    """Re-read the lead under a row lock: two people acting on one lead at once
    are serialised, and each sees the other's result before checking state."""
    return Lead.objects.select_for_update().get(pk=lead.pk)


def require_visible(actor, lead: Lead) -> None:
    """PermissionDenied unless the lead is in the actor's scope (dcc.policy)
    to work on: a visit's receiver reads the lead but changes only the visit
    (``LeadQuerySet.workable_by``)."""
    if not may_work(actor, lead):
        raise PermissionDenied("lead outside the actor's scope")


def may_work(actor, lead: Lead) -> bool:
    """Whether ``actor`` may change ``lead`` (not only read it)."""
    return Lead.objects.workable_by(actor).filter(pk=lead.pk).exists()


def locked_visible(actor, lead: Lead) -> Lead:
    """The usual opening of a write: in scope, then locked and re-read."""
    require_visible(actor, lead)
    return lock(lead)


def save(lead: Lead, *, actor, reason: str = "") -> Lead:
    """Save with a history row naming the actor and the reason."""
    audit.attribute(lead, actor=actor, reason=reason)
    lead.save()
    return lead
