"""The KPI registry: every KPI declared once, and the named counts it is
computed from.

A ``Count`` is one named aggregate: the base table ``compute`` and
``kpi.grouped`` read it from, its SQL (a ``Count`` of the rows meeting its
condition, unless it says otherwise) and the rows the drill-down lists for
it (their kind, base queryset and condition: the same rows, so a figure and
its rows agree).

A ``Kpi`` is a key, its one name (``label``: the pages, the API's schema
and, rendered in Chinese, the workbook all show it), its unit, and its
numerator and denominator: what each counts (a label) and the counts summed
for it. The tables it reads and the rows each part lists follow from those
counts. ``figures_from``, ``kpi.grouped``, ``drilldown``, the dashboards,
the workbook and the API loop over ``KPIS``: adding a KPI is one entry here,
plus a ``Count`` (its SQL) when no existing count fits.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce

from django.db.models import Count as CountRows
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kpi.metrics import rows as sets
from kpi.metrics.base import COUNT, PER_DAY, PERCENT, Metric, Period, Scope
from telephony.models import Direction

# ---------------------------------------------------------------- the counts

# ``sql`` of a count ``compute`` and ``kpi.grouped`` aggregate with the other
# counts of its table (sets.leads, sets.visits, calls): rows meeting its condition.
ROWS_COUNTED = "rows"


@dataclass(frozen=True)
class Count:
    name: str
    # The base table it is read from (``kpi.grouped.TABLES``, or
    # ``meetings``: read by ``meetings_on_time`` and its grouped variants).
    table: str
    # The drill-down: the kind of row listed (``kpi.views.ROWS``), the base
    # queryset ``(scope, period)`` and the condition ``(period) → Q``
    # narrowing it (None: all of it). No kind: no rows (e.g. agent-days).
    rows: str | None = None
    base: Callable | None = None
    where: Callable[[Period], Q] | None = None
    # ``ROWS_COUNTED``: the rows of the table meeting ``where``; a callable
    # ``(period) → aggregate`` for anything else; None: counted by a query
    # of its own in ``kpi.metrics.figures`` and ``kpi.grouped``.
    sql: str | Callable | None = ROWS_COUNTED

    def aggregate(self, period: Period, where: Q | None = None):
        """The SQL aggregate, over rows already narrowed by ``where``."""
        if callable(self.sql):
            return self.sql(period)
        condition = where or Q()
        if self.where is not None:
            condition &= self.where(period)
        return CountRows("pk", filter=condition) if condition else CountRows("pk")

    def drilldown(self, scope: Scope, period: Period):
        rows = self.base(scope, period)
        return rows.filter(self.where(period)) if self.where else rows


def _leads(scope, period):
    return sets.leads(scope)


def _followups(scope, period):
    return sets.followups(scope)


def _always(q: Q) -> Callable[[Period], Q]:
    return lambda period: q


INBOUND, OUTBOUND = Q(direction=Direction.INBOUND), Q(direction=Direction.OUTBOUND)

COUNTS: dict[str, Count] = {
    c.name: c
    for c in (
        # Leads, for the lead's owner.
        Count("received", "leads", "leads", _leads, sets.received_q),
        Count("carried_over", "leads", "leads", _leads, sets.carried_over_q),
        Count(
            "a_cards",
            "leads",
            "leads",
            _leads,
            lambda p: sets.received_q(p) & sets.valid_a_card_q(),
        ),
        # 转介绍: leads received that name the C-card customer who referred them.
        Count(
            "referred",
            "leads",
            "leads",
            _leads,
            lambda p: sets.received_q(p) & Q(referred_by__isnull=False),
        ),
        Count("sla_due", "leads", "leads", _leads, sets.sla_due_q),
        Count("sla_met", "leads", "leads", _leads, sets.sla_met_q),
        Count("converted", "leads", "leads", _leads, sets.converted_q),
        # First phone follow-ups, for who made them.
        Count("first_calls", "first_calls", "followups", _followups, sets.first_call_q, sql=None),
        # Arrived visits: per visit for the lead's owner when the customer
        # came (visits, test drives); the first invited visit for who booked
        # it (the invitation: mode two's caller keeps it, the receiving
        # agent gets the visit); per lead for its owner (first, second).
        Count("visits", "visits", "visits", sets.visits),
        Count("test_drives", "visits", "visits", sets.visits, _always(Q(test_drive=True))),
        Count(
            "first_invited",
            "invitations",
            "visits",
            sets.invitations,
            _always(sets.first_invited_q()),
        ),
        Count(
            "first_visits", "visits", "leads", _leads, lambda p: sets.visit_number_q(1, p), sql=None
        ),
        Count(
            "second_visits",
            "visits",
            "leads",
            _leads,
            lambda p: sets.visit_number_q(2, p),
            sql=None,
        ),
        Count("deals", "deals", "deals", sets.deals, sql=None),
        Count("target_units", "targets", "targets", sets.targets, sql=None),
        # First-time callers: the earliest call per number (a window query).
        Count("callers", "callers", "calls", sets.first_time_callers, sql=None),
        Count("carded", "callers", "calls", sets.first_time_callers, sets.carded_q, sql=None),
        # Customer calls, for the agent on the call.
        Count("inbound", "calls", "calls", sets.customer_calls, _always(INBOUND)),
        Count("outbound", "calls", "calls", sets.customer_calls, _always(OUTBOUND)),
        Count(
            "talk",
            "calls",
            "calls",
            sets.customer_calls,
            _always(Q(billsec__gt=0)),
            sql=lambda period: Coalesce(Sum("billsec"), 0),
        ),
        Count("in_time", "calls", "calls", sets.customer_calls, _always(sets.answered_in_time_q())),
        Count("agent_days", "calls", sql=None),
        # Meetings: team-days (an agent's: days attended) with both meetings
        # on time, and working days (``meetings_on_time``).
        Count(
            "on_time_days",
            "meetings",
            "meetings",
            sets.meetings,
            _always(Q(on_time=True)),
            sql=None,
        ),
        Count("working_days", "meetings", "meetings", sets.meetings, sql=None),
    )
}


def counted_with(table: str) -> list[Count]:
    """The counts of ``table`` aggregated together in one query."""
    return [c for c in COUNTS.values() if c.table == table and c.sql is not None]


# ---------------------------------------------------------------- the KPIs


@dataclass(frozen=True)
class Kpi:
    name: str
    label: str
    unit: str
    numerator: str
    numerator_counts: tuple[str, ...]
    denominator: str | None = None
    denominator_counts: tuple[str, ...] = ()

    def counts(self, part: str) -> tuple[Count, ...]:
        names = self.numerator_counts if part == "numerator" else self.denominator_counts
        return tuple(COUNTS[name] for name in names)

    @property
    def tables(self) -> tuple[str, ...]:
        """The base tables its counts are read from."""
        names = self.numerator_counts + self.denominator_counts
        return tuple(dict.fromkeys(COUNTS[name].table for name in names))

    @property
    def rows(self) -> tuple[str | None, str | None]:
        """What the drill-down of each part lists: sets.leads, sets.followups, sets.visits,
        calls, sets.deals, targets or meetings (None: no rows)."""
        return tuple(_kind(self.counts(part)) for part in PARTS)

    def metric(self, counts: dict[str, int]) -> Metric:
        """The figure from the counts (``figures_from``)."""
        numerator = sum(counts[name] for name in self.numerator_counts)
        if self.unit == COUNT:
            return Metric.count(numerator)
        denominator = sum(counts[name] for name in self.denominator_counts)
        if self.unit == PER_DAY:
            return Metric.per_day(numerator, denominator)
        return Metric.rate(numerator, denominator)

    def drilldown(self, scope: Scope, period: Period, part: str):
        """The rows a part counts: its counts' base, narrowed to any of their
        conditions. LookupError for a part without rows."""
        counts = self.counts(part)
        if _kind(counts) is None:
            raise LookupError(f"{self.name}.{part} lists no rows")
        rows = counts[0].base(scope, period)
        if any(c.where is None for c in counts):
            return rows
        return rows.filter(reduce(operator.or_, (c.where(period) for c in counts)))


def _kind(counts: tuple[Count, ...]) -> str | None:
    """The kind of row a part's counts list: one base for all, else none."""
    if not counts or any(c.rows is None for c in counts):
        return None
    if len({(c.rows, c.base) for c in counts}) > 1:
        return None
    return counts[0].rows


KPIS: dict[str, Kpi] = {
    k.name: k
    for k in (
        Kpi(
            "followup_rate",
            pgettext_lazy("KPI", "Follow-up rate"),
            PERCENT,
            _("First phone follow-ups"),
            ("first_calls",),
            _("Leads carried over un-followed + leads received"),
            ("carried_over", "received"),
        ),
        Kpi(
            "invite_to_store_rate",
            pgettext_lazy("KPI", "Invitation-to-store rate"),
            PERCENT,
            _("First invited store visits"),
            ("first_invited",),
            _("First phone follow-ups"),
            ("first_calls",),
        ),
        Kpi(
            "deals",
            pgettext_lazy("KPI", "Deals"),
            COUNT,
            _("Vehicles ordered (or delivered without order)"),
            ("deals",),
        ),
        Kpi(
            "sla_48h_compliance",
            pgettext_lazy("KPI", "48-hour compliance"),
            PERCENT,
            _("Manufacturer leads called by their deadline"),
            ("sla_met",),
            _("Manufacturer leads due"),
            ("sla_due",),
        ),
        Kpi(
            "card_creation_rate",
            pgettext_lazy("KPI", "Card-creation rate"),
            PERCENT,
            _("First-time callers with a valid A-card"),
            ("carded",),
            _("First-time inbound callers"),
            ("callers",),
        ),
        Kpi(
            "return_visit_rate",
            pgettext_lazy("KPI", "Return-to-showroom rate"),
            PERCENT,
            _("Leads with a second visit"),
            ("second_visits",),
            _("Leads with a first visit"),
            ("first_visits",),
        ),
        Kpi(
            "test_drive_rate",
            pgettext_lazy("KPI", "Test-drive rate"),
            PERCENT,
            _("Visits with a test drive"),
            ("test_drives",),
            _("Store visits"),
            ("visits",),
        ),
        Kpi(
            "conversion_30d",
            pgettext_lazy("KPI", "30-day conversion"),
            PERCENT,
            _("Leads with a deal within 30 days"),
            ("converted",),
            _("Leads received"),
            ("received",),
        ),
        Kpi(
            "sales_completion",
            pgettext_lazy("KPI", "Sales completion"),
            PERCENT,
            _("Deals"),
            ("deals",),
            _("Target units"),
            ("target_units",),
        ),
        Kpi(
            "meetings_on_time",
            pgettext_lazy("KPI", "Meetings on time"),
            PERCENT,
            _("Working days with both meetings on time"),
            ("on_time_days",),
            _("Working days"),
            ("working_days",),
        ),
        Kpi(
            "new_leads",
            pgettext_lazy("KPI", "Leads received"),
            COUNT,
            _("Leads received"),
            ("received",),
        ),
        Kpi(
            "referrals",
            pgettext_lazy("KPI", "Referrals"),
            COUNT,
            _("Leads received referred by a customer"),
            ("referred",),
        ),
        Kpi(
            "new_a_cards",
            pgettext_lazy("KPI", "New valid A-cards"),
            COUNT,
            _("Leads received that are valid A-cards"),
            ("a_cards",),
        ),
        Kpi(
            "calls_inbound",
            pgettext_lazy("KPI", "Inbound calls"),
            COUNT,
            _("Inbound calls"),
            ("inbound",),
        ),
        Kpi(
            "calls_outbound",
            pgettext_lazy("KPI", "Outbound calls"),
            COUNT,
            _("Outbound calls"),
            ("outbound",),
        ),
        Kpi(
            "inbound_calls_per_agent_day",
            pgettext_lazy("KPI", "Inbound calls per agent per day"),
            PER_DAY,
            _("Inbound calls"),
            ("inbound",),
            _("Agent-days with calls"),
            ("agent_days",),
        ),
        Kpi(
            "outbound_calls_per_agent_day",
            pgettext_lazy("KPI", "Outbound calls per agent per day"),
            PER_DAY,
            _("Outbound calls"),
            ("outbound",),
            _("Agent-days with calls"),
            ("agent_days",),
        ),
        Kpi(
            "talk_seconds_per_agent_day",
            pgettext_lazy("KPI", "Talk time per agent per day"),
            PER_DAY,
            _("Talk time (s)"),
            ("talk",),
            _("Agent-days with calls"),
            ("agent_days",),
        ),
        Kpi(
            "answered_in_time_rate",
            pgettext_lazy("KPI", "Answered in time"),
            PERCENT,
            _("Inbound calls answered in time"),
            ("in_time",),
            _("Inbound calls"),
            ("inbound",),
        ),
    )
}

# The API's contract (API.md "KPI"): these names never go away.
API_METRICS = (
    "followup_rate",
    "invite_to_store_rate",
    "deals",
    "sla_48h_compliance",
    "card_creation_rate",
    "return_visit_rate",
    "test_drive_rate",
    "conversion_30d",
    "sales_completion",
)

PARTS = ("numerator", "denominator")
