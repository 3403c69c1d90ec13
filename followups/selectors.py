"""Reads for the call queue, the supervisor's team health and the breach list."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from django.db import connections
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    F,
    IntegerField,
    Q,
    Value,
    When,
)
from django.db.models.expressions import OrderBy, RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dcc.aggregates import percentiles
from dcc.models import User
from dcc.policy import Level, scope_level
from dcc.roles import Role
from dcc.timeutils import local_day_start, local_minute
from followups.models import Appointment, AppointmentStatus, FollowUp, FollowupPolicy, SlaBreach
from leads.models import OPEN_STATUSES, RECONTACT_STATUSES, Lead, LeadRules, Status

log = logging.getLogger(__name__)

QUEUE_SECTION_LIMIT = 200
# Sorts new leads without a first-contact deadline after those with one.
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)
BOOKED_VISIT_STATUSES = (Status.INVITED, Status.VISITED, Status.ORDERED, Status.DEFEAT_PENDING)

# The queue's sections in order of urgency, with what a person reads. Every
# open lead the agent owns is in exactly one of the lead sections (the last,
# "later", takes what no other does); "recontact" holds closed leads
# (defeated, delivered) whose re-contact date has come.
QUEUE_KINDS = {
    "soon": gettext_lazy("First call due soon"),
    "overdue": gettext_lazy("Overdue follow-up"),
    "new": gettext_lazy("New lead"),
    "confirm": gettext_lazy("Confirm tomorrow's visit"),
    "retry": gettext_lazy("Not reached: call again"),
    "today": gettext_lazy("Follow-up due today"),
    "recontact": gettext_lazy("Re-contact a closed lead"),
    "unplanned": gettext_lazy("No follow-up planned"),
    "later": gettext_lazy("Follow-up planned later"),
}
# The sections of work due now; "unplanned" and "later" only make sure no
# open lead is lost from sight.
DUE_KINDS = ("soon", "overdue", "new", "confirm", "retry", "today", "recontact")
# What the agent's home lists as work (the next item after a call comes from
# these): everything but "later", which it counts and lists on demand.
PAGE_KINDS = (*DUE_KINDS, "unplanned")


@dataclass
class QueueItem:
    kind: str  # a key of QUEUE_KINDS
    lead: Lead
    deadline: datetime | None
    appointment: Appointment | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}-{self.appointment.pk if self.appointment else self.lead.pk}"

    @property
    def reason(self) -> str:
        """Why the row is in the queue, in words (the page and the API)."""
        when = local_minute(self.deadline) if self.deadline else ""
        if self.kind == "soon":
            return _("The first call is due by %(time)s.") % {"time": when}
        if self.kind == "overdue":
            return _("The follow-up planned for %(time)s is overdue.") % {"time": when}
        if self.kind == "new":
            if self.deadline is None:
                return _("New lead, not contacted yet.")
            return _("New lead: the first call is due by %(time)s.") % {"time": when}
        if self.kind == "confirm":
            return _("Call to confirm the store visit at %(time)s.") % {"time": when}
        if self.kind == "retry":
            return _("Not reached after %(n)s call(s): call again from %(time)s.") % {
                "n": self.lead.unanswered_attempts,
                "time": when,
            }
        if self.kind == "recontact":
            if self.lead.status == Status.DELIVERED:
                return _("After-sales call to a customer who took delivery, due %(time)s.") % {
                    "time": when
                }
            return _("Re-contact a defeated lead, due %(time)s.") % {"time": when}
        if self.kind == "unplanned":
            return _("No next follow-up is planned: call and plan one.")
        if self.kind == "later":
            return _("Next follow-up planned for %(time)s.") % {"time": when}
        return _("Follow-up due today at %(time)s.") % {"time": when}


@dataclass(frozen=True)
class _Inputs:
    """What the SQL of one agent's queue at one moment depends on: the
    owner, the sections' times and tomorrow's visits (lead id, time)."""

    owner: int
    soon: datetime
    today: datetime
    tomorrow: datetime
    retry_before: datetime
    visits: tuple[tuple[int, datetime], ...]

    def slots(self) -> dict[str, object]:
        values = {
            "owner": self.owner,
            "soon": self.soon,
            "today": self.today,
            "tomorrow": self.tomorrow,
            "retry_before": self.retry_before,
        }
        for i, (pk, at) in enumerate(self.visits):
            values[f"visit_pk_{i}"], values[f"visit_at_{i}"] = pk, at
        return values


def _sections(inputs: _Inputs) -> dict:
    """Each section's own condition and the time it is ordered by, in order
    of urgency; a lead belongs to the first section whose condition it
    meets. Closed leads (defeated, delivered) come back on their re-contact
    date without being reopened (issue 13). The confirmations' time
    (tomorrow's visit) is filled in by ``_compile``."""
    return {
        "recontact": (Q(status__in=RECONTACT_STATUSES), F("recontact_at")),
        "soon": (LeadRules.first_contact_due_before(inputs.soon), F("first_contact_due")),
        "overdue": (LeadRules.overdue(inputs.today), F("next_followup_at")),
        # New leads without a hard deadline (web, inbound) after those with one.
        "new": (
            LeadRules.first_contact_owed(),
            Coalesce("first_contact_due", Value(FAR_FUTURE)),
        ),
        "confirm": (Q(pk__in=[pk for pk, _at in inputs.visits]), None),
        "retry": (
            LeadRules.retry_due(inputs.retry_before, timedelta(0)),
            F("last_attempt_at"),
        ),
        "today": (LeadRules.due_between(inputs.today, inputs.tomorrow), F("next_followup_at")),
        "unplanned": (Q(next_followup_at__isnull=True), F("received_at")),
        "later": (Q(pk__isnull=False), F("next_followup_at")),
    }


def _book_parts(inputs: _Inputs):
    """The agent's book: their open leads, and their closed ones due a
    re-contact; read as two parts (UNION ALL) rather than one OR, so that
    the open leads, nearly all of it, are an index-only scan of
    lead_queue_next_idx (which covers every column the sections read)
    instead of a visit to the table's page of every lead."""
    return (
        Lead.objects.filter(owner_id=inputs.owner, status__in=OPEN_STATUSES),
        Lead.objects.filter(
            owner_id=inputs.owner, status__in=RECONTACT_STATUSES, recontact_at__lt=inputs.tomorrow
        ),
    )


def _compile(inputs: _Inputs, db: str) -> dict[str, tuple[str, list]]:
    """The SQL of the book's filters (``wheres``), of a lead's section (its
    place in ``_Queue.ORDER``: ``rank``), of its sort key within the section
    (``sort_key``), of its receipt, and of the order within a section."""
    conditions = _sections(inputs)
    parts = _book_parts(inputs)
    query = parts[0].query.chain()
    compiler = query.get_compiler(using=db)

    def sql(expression):
        return compiler.compile(expression.resolve_expression(query, allow_joins=False))

    order_of = _Queue.ORDER.index
    # The section's place in ``ORDER``: the first condition a lead meets.
    rank = sql(
        Case(
            *(When(cond, then=Value(order_of(kind))) for kind, (cond, _key) in conditions.items()),
            output_field=IntegerField(),
        )
    )
    # A confirmation's sort key: its visit's time.
    pk_sql, _pk_params = sql(F("pk"))
    whens, visit_params = [], []
    for pk, at in inputs.visits:
        value_sql, value_params = sql(Value(at, output_field=DateTimeField()))
        whens.append(f"WHEN %s THEN {value_sql}")
        visit_params += [pk, *value_params]
    visit_time = (f"CASE {pk_sql} {' '.join(whens)} END", visit_params) if whens else None
    # The sort key: the key of the lead's section, chosen by its rank.
    cases, params = [], list(rank[1])
    for kind, (_cond, key) in conditions.items():
        key_sql, key_params = (visit_time or ("NULL", [])) if key is None else sql(key)
        cases.append(f"WHEN {order_of(kind)} THEN {key_sql}")
        params += key_params
    quote = connections[db].ops.quote_name
    # The order within a section over the book's columns (see _Queue._book).
    key = _raw((quote("queue_key"), []))
    order = ", ".join(
        [
            compiler.compile(OrderBy(key, nulls_last=True))[0],
            quote("queue_received"),
            quote("queue_pk"),
        ]
    )
    return {
        "rank": rank,
        "sort_key": (f"CASE ({rank[0]}) {' '.join(cases)} END", params),
        "received": sql(F("received_at")),
        "wheres": [part.query.get_compiler(using=db).compile(part.query.where) for part in parts],
        "order": (order, []),
    }


class _Shape:
    """The compiled SQL of every queue with a given number of visits to
    confirm, its parameters a template: the ORM resolved and compiled the
    sections' dozens of expressions on every request, a tenth of a queue
    page. Compiled once per shape with stand-in values (``_stand_in``),
    each found again among the parameters; a request fills in its own."""

    def __init__(self, db: str, visits: int):
        self.db = db
        stand_in = _stand_in(visits)
        adapt = connections[db].ops.adapt_datetimefield_value
        # Each stand-in value as the compiler passes it on, to its slot and
        # whether the compiler adapted it (SQLite's times are text).
        found: dict[object, tuple[str, bool]] = {}
        for slot, value in stand_in.slots().items():
            if isinstance(value, datetime) and adapt(value) != value:
                found[adapt(value)] = (slot, True)
            found[value] = (slot, False)
        compiled = _compile(stand_in, db)
        used = set()

        def template(params):
            out = []
            for param in params:
                hit = found.get(param) if isinstance(param, int | str | datetime) else None
                if hit is None:
                    out.append((None, param))
                else:
                    used.add(hit[0])
                    out.append(hit)
            return out

        self.sql = {}
        for name, value in compiled.items():
            if name == "wheres":
                self.sql[name] = [(sql, template(params)) for sql, params in value]
            else:
                self.sql[name] = (value[0], template(value[1]))
        if set(stand_in.slots()) - used:
            # A value the compiler changed beyond recognition (a new kind of
            # condition): compiled for each queue, as before, rather than wrong.
            log.warning("queue SQL: not every stand-in was found; compiled per request")
            self.sql = None

    def fill(self, inputs: _Inputs) -> dict:
        """The SQL of ``inputs``'s queue, each parameter in its place."""
        if self.sql is None:
            return _compile(inputs, self.db)
        values = inputs.slots()
        adapt = connections[self.db].ops.adapt_datetimefield_value

        def params(template):
            # (None, a constant) or (a slot, whether the compiler adapted it)
            return [
                value if slot is None else adapt(values[slot]) if value else values[slot]
                for slot, value in template
            ]

        return {
            name: [(sql, params(t)) for sql, t in value]
            if name == "wheres"
            else (value[0], params(value[1]))
            for name, value in self.sql.items()
        }


_SENTINEL_TIME = datetime(1901, 1, 1, tzinfo=UTC)


def _stand_in(visits: int) -> _Inputs:
    """Values no queue has, to find where each goes among the parameters."""

    def at(n):
        return _SENTINEL_TIME + timedelta(seconds=n)

    return _Inputs(
        owner=-7_000_001,
        soon=at(1),
        today=at(2),
        tomorrow=at(3),
        retry_before=at(4),
        visits=tuple((-8_000_000 - i, at(100 + i)) for i in range(visits)),
    )


@lru_cache(maxsize=128)
def _compiled(db: str, visits: int) -> _Shape:
    return _Shape(db, visits)


class _Queue:
    """The queue's sections for one agent at one moment: which of their
    leads each holds, in order of urgency. The lead sections exclude each
    other and the last takes the rest, so every open lead shows exactly
    once, in its most urgent section, and counts agree with the rows.

    The section of a lead is one SQL ``CASE`` (its first matching condition,
    in ``QUEUE_KINDS`` order), its place in a section a second ``CASE`` on
    the first's value. Tomorrow's visits come in one query; the rows to show
    in a second, over the lead table alone, on narrow rows (ids and
    sections, ranked within their section by a window function and cut at
    the limit, or counted); those rows, joined to their customer, channel
    and model, in a third: a bounded number of queries whatever the number
    of leads or sections.

    Both ``CASE`` expressions and the book's filters are compiled once per
    shape (``_Shape``) and filled in for each queue."""

    ORDER = tuple(QUEUE_KINDS)

    def __init__(self, agent, now: datetime):
        self.agent, self.now = agent, now
        today = timezone.localdate(now)
        today_start = local_day_start(today)
        tomorrow_start = local_day_start(today + timedelta(days=1))
        self.tomorrow = (tomorrow_start, local_day_start(today + timedelta(days=2)))
        policy = FollowupPolicy.objects.for_store(agent.store_id)
        self.retry_after = timedelta(hours=policy.retry_no_answer_hours)
        soon = now + timedelta(hours=policy.first_contact_warning_hours)
        # Tomorrow's visits to confirm: a few rows, read first, so that the
        # sections' CASE names their leads instead of repeating a subquery.
        self.visits = {
            visit.lead_id: visit
            for visit in self.appointments().select_related("receiver").order_by("scheduled_at")
        }
        self.db = Lead.objects.db
        inputs = _Inputs(
            owner=agent.pk,
            soon=soon,
            today=today_start,
            tomorrow=tomorrow_start,
            retry_before=now - self.retry_after,
            visits=tuple((pk, visit.scheduled_at) for pk, visit in self.visits.items()),
        )
        compiled = _compiled(self.db, len(inputs.visits)).fill(inputs)
        self.rank, self.sort_key = compiled["rank"], compiled["sort_key"]
        self.wheres, self.received = compiled["wheres"], compiled["received"]
        self.order = compiled["order"][0]
        quote = connections[self.db].ops.quote_name
        self.table, self.pk = quote(Lead._meta.db_table), quote(Lead._meta.pk.column)

    def _book(self, kinds=None) -> tuple[str, list]:
        """The SQL of the book's rows, narrow: each lead's id (``queue_pk``),
        section (``queue_rank``), sort key in its section (``queue_key``)
        and receipt (``queue_received``); only the sections ``kinds`` if
        given."""
        quote = connections[self.db].ops.quote_name
        (rank_sql, rank_params), (key_sql, key_params) = self.rank, self.sort_key
        received_sql, received_params = self.received
        columns = (
            f"{self.table}.{self.pk} AS {quote('queue_pk')}, "
            f"({rank_sql}) AS {quote('queue_rank')}, ({key_sql}) AS {quote('queue_key')}, "
            f"{received_sql} AS {quote('queue_received')}"
        )
        column_params = [*rank_params, *key_params, *received_params]
        selects, params = [], []
        for where_sql, where_params in self.wheres:
            where_sql, where_params = f"({where_sql})", list(where_params)
            if kinds is not None:
                ranks = ", ".join(str(self.ORDER.index(kind)) for kind in kinds)
                where_sql += f" AND ({rank_sql}) IN ({ranks})"
                where_params += rank_params
            # Compiled by the ORM, every value a parameter:
            selects.append(f"SELECT {columns} FROM {self.table} WHERE {where_sql}")  # noqa: S608
            params += [*column_params, *where_params]
        return " UNION ALL ".join(selects), params

    def appointments(self):
        # The owner confirms, whoever booked; a visit of a closed lead is moot.
        # Booking makes a lead "invited" (or leaves it further on), so only
        # those statuses can hold a booked visit.
        return Appointment.objects.filter(
            lead__owner=self.agent,
            lead__status__in=BOOKED_VISIT_STATUSES,
            status=AppointmentStatus.BOOKED,
            # Always true for tomorrow (only past visits are flagged); it lets
            # the planner use the pending-and-unflagged index on the time.
            flagged_at__isnull=True,
            scheduled_at__gte=self.tomorrow[0],
            scheduled_at__lt=self.tomorrow[1],
        )

    def _ranked(self, *, limit: int, total: int | None, kinds) -> tuple[str, list]:
        """The SQL of the rows to show, each lead's id and section in queue
        order: every section's first ``limit`` (``total`` at most), over the
        lead table alone."""
        if total is not None and total <= limit:
            # The page's first rows: no section can pass its limit, so the
            # most urgent ``total`` in order, no window needed.
            sql, params = self._in_order(kinds)
            return f"{sql} LIMIT %s", [*params, total]
        quote = connections[self.db].ops.quote_name
        book, params = self._book(kinds)
        rank, pk, row = quote("queue_rank"), quote("queue_pk"), quote("queue_row")
        sql = (
            f"SELECT {pk}, {rank} FROM (SELECT {pk}, {rank}, {quote('queue_key')}, "  # noqa: S608
            f"{quote('queue_received')}, ROW_NUMBER() OVER "
            f"(PARTITION BY {rank} ORDER BY {self.order}) AS {row} "
            f"FROM ({book}) {quote('book')}) {quote('ranked')} WHERE {row} <= %s "
            f"ORDER BY {rank}, {self.order}"
        )
        return sql, [*params, limit]

    def _in_order(self, kinds=None) -> tuple[str, list]:
        """The SQL of every row of the book (of the sections ``kinds``), its
        id and section, in queue order."""
        quote = connections[self.db].ops.quote_name
        book, params = self._book(kinds)
        rank = quote("queue_rank")
        sql = (
            f"SELECT {quote('queue_pk')}, {rank} FROM ({book}) {quote('book')} "  # noqa: S608
            f"ORDER BY {rank}, {self.order}"
        )
        return sql, params

    def items(
        self, *, limit: int, total: int | None = None, kinds: tuple[str, ...] | None = None
    ) -> list[QueueItem]:
        """Every section's first ``limit`` rows (``total`` rows at most), most
        urgent first: two queries (tomorrow's visits were read before), the
        rows' ids and sections in order, then those rows. (One query that
        ranked inside and ordered outside took PostgreSQL 5 ms to plan, the
        sections' expressions being in it three times.)"""
        if total is not None:
            limit = min(limit, total)
        if limit <= 0:
            return []
        with connections[self.db].cursor() as cursor:
            cursor.execute(*self._ranked(limit=limit, total=total, kinds=kinds))
            rows = cursor.fetchall()
        chosen = dict(rows if total is None else rows[:total])
        return self._items(self._rows(chosen))

    def _rows(self, chosen: dict) -> list[Lead]:
        """The leads ``chosen`` names ({id: section}, in queue order), each
        with its ``rank``; one gone meanwhile (reassigned) is not shown."""
        if not chosen:
            return []
        leads = Lead.objects.filter(owner=self.agent, pk__in=list(chosen)).select_related(
            "customer", "intended_model", "channel"
        )
        by_pk = {lead.pk: lead for lead in leads}
        ordered = []
        for lead_pk, rank in chosen.items():
            lead = by_pk.get(lead_pk)
            if lead is not None:
                lead.rank = rank
                ordered.append(lead)
        return ordered

    def page(self, *, limit: int, total: int, kinds: tuple[str, ...]):
        """The rows ``items`` would give and every section's size, in two
        queries that read the agent's book once: every lead's id and section
        in queue order (narrow rows: the sections are counted and the rows
        chosen here), then the chosen rows."""
        with connections[self.db].cursor() as cursor:
            cursor.execute(*self._in_order())
            rows = cursor.fetchall()
        counts = Counter(self.ORDER[rank] for _pk, rank in rows)
        # Every section's first ``limit`` rows of the sections asked for, the
        # first ``total`` of them: as ``items`` chooses.
        wanted, taken, chosen = {self.ORDER.index(kind) for kind in kinds}, Counter(), {}
        for lead_pk, rank in rows:
            if len(chosen) == total:
                break
            if rank in wanted and taken[rank] < limit:
                taken[rank] += 1
                chosen[lead_pk] = rank
        return self._items(self._rows(chosen)), {kind: counts.get(kind, 0) for kind in self.ORDER}

    def _items(self, leads) -> list[QueueItem]:
        items = []
        for lead in leads:
            lead.section = self.ORDER[lead.rank]
            visit = self.visits.get(lead.pk) if lead.section == "confirm" else None
            if visit is not None:
                visit.lead = lead
                items.append(QueueItem("confirm", lead, visit.scheduled_at, visit))
            else:
                items.append(QueueItem(lead.section, lead, self.deadline(lead.section, lead)))
        return items

    def deadline(self, kind: str, lead: Lead):
        return _deadline(kind, lead, self.retry_after)


def _raw(sql_params: tuple[str, list], output_field=None) -> RawSQL:
    """SQL the queue compiled from its own expressions (every value a
    parameter), reused as an expression."""
    return RawSQL(*sql_params, output_field=output_field)  # noqa: S611


def queue_for_agent(
    *,
    agent,
    now: datetime | None = None,
    limit: int = QUEUE_SECTION_LIMIT,
    total: int | None = None,
) -> list[QueueItem]:
    """Today's call queue (API.md), most urgent first: first calls due soon,
    overdue follow-ups, new leads by their first-contact deadline,
    tomorrow's visits to confirm, calls to retry (not reached, the store's
    retry interval past), today's follow-ups, closed leads due a re-contact,
    then open leads with no plan and those planned later. Every open lead
    of the agent is in exactly one section. At most ``limit`` rows a
    section, ``total`` in all; a fixed number of queries.
    """
    return _Queue(agent, now or timezone.now()).items(limit=limit, total=total)


def queue_deadline(*, agent, kind: str, lead: Lead, now: datetime | None = None):
    """The deadline a lead has in the queue section ``kind`` (only a retry
    needs the store's settings)."""
    if kind == "retry":
        hours = FollowupPolicy.objects.for_store(agent.store_id).retry_no_answer_hours
        return _deadline(kind, lead, timedelta(hours=hours))
    return _deadline(kind, lead, retry_after=None)


def _deadline(kind: str, lead: Lead, retry_after: timedelta | None):
    if kind in ("new", "soon"):
        return lead.first_contact_due
    if kind == "recontact":
        return lead.recontact_at
    if kind == "retry":
        return lead.last_attempt_at + retry_after if lead.last_attempt_at else None
    return lead.next_followup_at


def queue_page(
    *, agent, total: int, now: datetime | None = None
) -> tuple[list[QueueItem], dict[str, int]]:
    """The queue's ``total`` most urgent rows of work (``PAGE_KINDS``) and
    every section's size: what the agent's home page shows (the rest, the
    leads planned later included, on demand)."""
    queue = _Queue(agent, now or timezone.now())
    return queue.page(limit=QUEUE_SECTION_LIMIT, total=total, kinds=PAGE_KINDS)


def escalated_for_supervisor(*, supervisor, limit: int = QUEUE_SECTION_LIMIT):
    """Leads whose unanswered attempts passed the store's limit before their
    deadline: the supervisor's own queue."""
    return (
        Lead.objects.visible_to(supervisor)
        .open()
        .filter(LeadRules.escalated())
        .select_related("customer", "owner")
        .order_by("first_contact_due")[:limit]
    )


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
    staff = User.objects.visible_to(user).active().filter(role__in=QUEUE_ROLES)
    # The staff directory is store-wide; a supervisor's health table is the team's.
    level = scope_level(user)
    if level == Level.TEAM:
        staff = staff.filter(team_id=user.team_id)
    elif level == Level.OWN:
        staff = staff.filter(pk=user.pk)
    agents = list(staff.select_related("team").order_by("team__name", "name", "username"))
    leads = (
        Lead.objects.visible_to(user)
        .open()
        .filter(owner__isnull=False)
        .values("owner")
        .annotate(
            open=Count("pk"),
            new=Count("pk", filter=LeadRules.not_yet_contacted()),
            overdue=Count("pk", filter=LeadRules.overdue(today_start)),
            due_today=Count("pk", filter=LeadRules.due_between(today_start, tomorrow_start)),
            escalated=Count("pk", filter=LeadRules.escalated()),
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
