"""Reads for the call queue, the supervisor's team health and the breach list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dcc.aggregates import percentiles
from dcc.models import User
from dcc.roles import Role
from dcc.timeutils import local_day_start
from followups.models import Appointment, AppointmentStatus, FollowUp, FollowupPolicy, SlaBreach
from leads.models import OPEN_STATUSES, Lead, Status

QUEUE_SECTION_LIMIT = 200

# The queue's sections in order of urgency, with what a person reads.
QUEUE_KINDS = {
    "overdue": gettext_lazy("Overdue follow-up"),
    "new": gettext_lazy("New lead"),
    "confirm": gettext_lazy("Confirm tomorrow's visit"),
    "retry": gettext_lazy("Not reached: call again"),
    "today": gettext_lazy("Follow-up due today"),
}


@dataclass
class QueueItem:
    kind: str  # "overdue" | "new" | "confirm" | "retry" | "today"
    lead: Lead
    deadline: datetime | None
    appointment: Appointment | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}-{self.appointment.pk if self.appointment else self.lead.pk}"


def _lead_rows(queryset, limit: int):
    return queryset.select_related("customer", "intended_model", "channel")[:limit]


def _retry_hours(store_id) -> int:
    hours = (
        FollowupPolicy.objects.filter(store_id=store_id)
        .values_list("retry_no_answer_hours", flat=True)
        .first()
    )
    return hours if hours is not None else FollowupPolicy().retry_no_answer_hours


def queue_for_agent(
    *, agent, now: datetime | None = None, limit: int = QUEUE_SECTION_LIMIT
) -> list[QueueItem]:
    """Today's call queue (API.md): overdue follow-ups first, then new leads by
    their first-contact deadline, tomorrow's appointments to confirm, calls
    to retry (not reached, the store's retry interval past), then today's
    follow-ups. Six indexed queries (the store's retry interval, then one
    per section), each bounded, whatever the number of
    leads the agent holds. A lead shows once, in its most urgent section.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    today_start = local_day_start(today)
    tomorrow_start = local_day_start(today + timedelta(days=1))
    day_after_start = local_day_start(today + timedelta(days=2))
    open_leads = Lead.objects.open().filter(owner=agent)
    retry_after = timedelta(hours=_retry_hours(agent.store_id))

    overdue = _lead_rows(
        open_leads.filter(next_followup_at__lt=today_start).order_by("next_followup_at"), limit
    )
    new = _lead_rows(
        open_leads.filter(status=Status.NEW, first_contacted_at__isnull=True).order_by(
            "first_contact_due", "received_at"
        ),
        limit,
    )
    # The owner confirms, whoever booked; a visit of a closed lead is moot.
    confirm = (
        Appointment.objects.filter(
            lead__owner=agent,
            lead__status__in=OPEN_STATUSES,
            status=AppointmentStatus.BOOKED,
            # Always true for tomorrow (only past visits are flagged); it lets
            # the planner use the pending-and-unflagged index on the time.
            flagged_at__isnull=True,
            scheduled_at__gte=tomorrow_start,
            scheduled_at__lt=day_after_start,
        )
        .select_related("lead__customer", "lead__intended_model", "lead__channel", "receiver")
        .order_by("scheduled_at")[:limit]
    )
    retry = _lead_rows(
        open_leads.filter(unanswered_attempts__gt=0)
        .annotate(last_attempt=Max("followups__occurred_at"))
        .filter(last_attempt__lte=now - retry_after)
        .order_by("last_attempt"),
        limit,
    )
    due_today = _lead_rows(
        open_leads.filter(
            next_followup_at__gte=today_start, next_followup_at__lt=tomorrow_start
        ).order_by("next_followup_at"),
        limit,
    )
    items = [QueueItem("overdue", lead, lead.next_followup_at) for lead in overdue]
    # New leads without a hard deadline (web, inbound) sort after those with one.
    items += [QueueItem("new", lead, lead.first_contact_due) for lead in new]
    items += [
        QueueItem("confirm", appointment.lead, appointment.scheduled_at, appointment)
        for appointment in confirm
    ]
    items += [QueueItem("retry", lead, lead.last_attempt + retry_after) for lead in retry]
    items += [QueueItem("today", lead, lead.next_followup_at) for lead in due_today]
    seen: set[int] = set()
    unique = []
    for item in items:
        if item.kind != "confirm":
            if item.lead.pk in seen:
                continue
            seen.add(item.lead.pk)
        unique.append(item)
    return unique


def escalated_for_supervisor(*, supervisor, limit: int = QUEUE_SECTION_LIMIT):
    """Leads whose unanswered attempts passed the store's limit before their
    deadline: the supervisor's own queue."""
    return (
        Lead.objects.visible_to(supervisor)
        .open()
        .filter(escalated_at__isnull=False, unanswered_attempts__gt=0)
        .select_related("customer", "owner")
        .order_by("first_contact_due")[:limit]
    )


def open_breaches_for(*, user):
    return SlaBreach.objects.visible_to(user).open()


# ---------------------------------------------------------------- supervisor views


def _day_bounds(now: datetime):
    today = timezone.localdate(now)
    return (
        local_day_start(today),
        local_day_start(today + timedelta(days=1)),
        local_day_start(today + timedelta(days=2)),
    )


QUEUE_ROLES = (Role.AGENT, Role.CALLER)


def team_health(*, user, now: datetime | None = None) -> dict:
    """Queue health per agent the user may see (DESIGN §1: the supervisor
    watches the team's queue): new leads not yet called, overdue, due today,
    open breaches, escalations, follow-ups logged today, appointments
    tomorrow. Five grouped aggregates, whatever the number of leads."""
    now = now or timezone.now()
    today_start, tomorrow_start, day_after_start = _day_bounds(now)
    agents = list(
        User.objects.visible_to(user)
        .active()
        .filter(role__in=QUEUE_ROLES)
        .select_related("team")
        .order_by("team__name", "name", "username")
    )
    leads = (
        Lead.objects.visible_to(user)
        .open()
        .filter(owner__isnull=False)
        .values("owner")
        .annotate(
            open=Count("pk"),
            new=Count("pk", filter=Q(status=Status.NEW, first_contacted_at__isnull=True)),
            overdue=Count("pk", filter=Q(next_followup_at__lt=today_start)),
            due_today=Count(
                "pk",
                filter=Q(next_followup_at__gte=today_start, next_followup_at__lt=tomorrow_start),
            ),
            escalated=Count("pk", filter=Q(escalated_at__isnull=False, unanswered_attempts__gt=0)),
        )
        .order_by()
    )
    by_owner = {row.pop("owner"): row for row in leads}
    breaches = _count_by(SlaBreach.objects.visible_to(user).open(), "owner")
    logged = _count_by(
        FollowUp.objects.visible_to(user).filter(
            occurred_at__gte=today_start, occurred_at__lt=tomorrow_start
        ),
        "agent",
    )
    tomorrow = _count_by(
        Appointment.objects.visible_to(user)
        .pending()
        .filter(scheduled_at__gte=tomorrow_start, scheduled_at__lt=day_after_start),
        "agent",
    )
    names = ("open", "new", "overdue", "due_today", "escalated")
    rows = []
    for agent in agents:
        counts = by_owner.get(agent.pk, {})
        row = {name: counts.get(name, 0) for name in names}
        row.update(
            agent=agent,
            breaches=breaches.get(agent.pk, 0),
            logged_today=logged.get(agent.pk, 0),
            appointments_tomorrow=tomorrow.get(agent.pk, 0),
        )
        rows.append(row)
    keys = (*names, "breaches", "logged_today", "appointments_tomorrow")
    total = {key: sum(row[key] for row in rows) for key in keys}
    return {"rows": rows, "total": total}


def _count_by(queryset, field: str) -> dict:
    return dict(queryset.values_list(field).annotate(n=Count("pk")).order_by())


# First-contact thresholds in minutes (issue: within 5 min, 1 h, 2 h, 48 h).
FIRST_CONTACT_WITHIN = (("5m", 5), ("1h", 60), ("2h", 120), ("48h", 48 * 60))


def first_contact_distribution(*, user, start: datetime, end: datetime) -> dict:
    """The minutes from receipt to first logged contact of the leads received
    in [start, end), per owner, per source and per store: median and 90th
    percentile over the contacted leads, and the share of *all* received
    leads contacted within 5 min, 1 h, 2 h and 48 h (a lead not yet contacted
    counts as not within). Grouped SQL aggregates; percentiles by
    ``percentile_cont`` on PostgreSQL."""
    received = Lead.objects.visible_to(user).filter(received_at__gte=start, received_at__lt=end)
    within = {
        f"within_{label}": Count("pk", filter=Q(first_contact_minutes__lte=minutes))
        for label, minutes in FIRST_CONTACT_WITHIN
    }
    tables = {}
    for group in ("owner", "source", "store"):
        counts = (
            received.values(group)
            .annotate(
                received=Count("pk"),
                contacted=Count("pk", filter=Q(first_contact_minutes__isnull=False)),
                **within,
            )
            .order_by()
        )
        spread = percentiles(
            received,
            group=group,
            value="first_contact_minutes",
            fractions={"median": 0.5, "p90": 0.9},
        )
        rows = []
        for row in counts:
            key = row[group]
            row.update(spread.get(key, {"median": None, "p90": None}))
            row["shares"] = [
                (label, _share(row[f"within_{label}"], row["received"]))
                for label, _minutes in FIRST_CONTACT_WITHIN
            ]
            row["key"] = key
            rows.append(row)
        tables[group] = rows
    _label_groups(tables)
    return tables


def _share(part: int, whole: int):
    return None if not whole else round(100 * part / whole, 1)


def _label_groups(tables: dict) -> None:
    from dcc.models import Store
    from leads.models import Source

    owners = {u.pk: u for u in User.objects.filter(pk__in=[r["key"] for r in tables["owner"]])}
    stores = {s.pk: s for s in Store.objects.filter(pk__in=[r["key"] for r in tables["store"]])}
    for row in tables["owner"]:
        row["label"] = owners[row["key"]].display_name if row["key"] else _("Unassigned")
    for row in tables["source"]:
        row["label"] = Source(row["key"]).label
    for row in tables["store"]:
        row["label"] = str(stores[row["key"]])
    for rows in tables.values():
        rows.sort(key=lambda row: (-row["received"], str(row["label"])))


def flagged_appointments(*, user):
    """Appointments past their grace with neither arrival nor no-show: the
    manager confirms what happened so the visit figures stay true."""
    return (
        Appointment.objects.visible_to(user)
        .pending()
        .filter(flagged_at__isnull=False)
        .select_related("lead__customer", "agent", "receiver")
        .order_by("scheduled_at")
    )
