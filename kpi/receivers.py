"""What the KPIs do when late data arrives (``kpi.monthly``).

Each receiver answers an event a lower app's service announced explicitly
(never a model's save hook: bulk writes skip those) and marks the months
whose stored figures the change can move, from its earliest moment on, for
every scope. The mark is one statement, run after the sender's transaction
commits (``transaction.on_commit``), once per transaction however many
events it sent (a bulk assignment of 500 leads marks once, from the earliest
of them): a page computing those months meanwhile must not store figures it
read before the change (see ``kpi.monthly``). A rolled-back change marks
nothing.

The moments: a call log, from its first call; a follow-up, from when it
happened; a visit, from its arrival; new leads, from their receipt less the
A-card window (a new lead can give an A-card to a caller of the week
before, and links those calls); a lead given to someone else, moved to
another store, corrected or merged, or a deal recorded, from the lead's
receipt (the credit of its whole history moves); leads removed and a staff
member changed (team figures follow the members' current team), every month.
"""

from __future__ import annotations

from django.dispatch import receiver

from dcc.events import staff_saved
from followups.events import followup_logged, visit_recorded
from kpi.metrics import CARD_WINDOW
from kpi.monthly import months_changed
from leads.events import leads_changed, leads_created, leads_removed
from telephony.events import calls_imported


@receiver(calls_imported, dispatch_uid="kpi.calls_imported")
def calls_arrived(sender, *, since=None, **kwargs):
    # An empty file (no calls) changes nothing.
    if since is not None:
        months_changed(since)


@receiver(followup_logged, dispatch_uid="kpi.followup_logged")
def followup_arrived(sender, *, followup, **kwargs):
    months_changed(followup.occurred_at)


@receiver(visit_recorded, dispatch_uid="kpi.visit_recorded")
def visit_arrived(sender, *, appointment, **kwargs):
    months_changed(appointment.arrived_at)


@receiver(leads_created, dispatch_uid="kpi.leads_created")
def leads_arrived(sender, *, leads, **kwargs):
    if leads:
        months_changed(min(lead.received_at for lead in leads) - CARD_WINDOW)


@receiver(leads_changed, dispatch_uid="kpi.leads_changed")
def leads_moved(sender, *, leads, since, **kwargs):
    months_changed(since - CARD_WINDOW)


@receiver(leads_removed, dispatch_uid="kpi.leads_removed")
def leads_gone(sender, **kwargs):
    months_changed(None)


@receiver(staff_saved, dispatch_uid="kpi.staff_saved")
def staff_changed(sender, **kwargs):
    months_changed(None)
