"""Scopes, periods and the figures' shape (see ``kpi.metrics``)."""

from __future__ import annotations

import calendar
import functools
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection, transaction
from django.db.models import BooleanField, F, Func, Q
from django.utils import timezone

from dcc.models import Store, Team, User
from dcc.pgsettings import pg_settings
from dcc.timeutils import local_day_start
from followups.models import FollowupPolicy

SCOPE_KINDS = ("agent", "team", "store", "group")

# How each base table reaches an agent, a team and a store (``Scope.q``).
LEAD_PATHS = {"agent": "owner", "team": "owner__team", "store": "store"}
STAFF_PATHS = {"agent": "agent", "team": "agent__team", "store": "store"}
# An arrived visit, for the lead's owner when the customer came (``Appointment
# .visit_owner``): in mode two the receiving DCC agent, while the invitation
# stays with who booked it (``STAFF_PATHS``: the appointment's ``agent``).
VISIT_PATHS = {"agent": "visit_owner", "team": "visit_owner__team", "store": "store"}
VISIT_LEAD_PATHS = {"agent": "lead__owner", "team": "lead__owner__team", "store": "store"}
TARGET_PATHS = {"agent": "member", "team": "member__team", "store": "store"}
MEETING_PATHS = {"agent": "attendees", "team": "team", "store": "store"}
TEAM_PATHS = {"agent": "members", "team": "pk", "store": "store"}

CONVERSION_WINDOW = timedelta(days=30)
CARD_WINDOW = timedelta(days=7)
DEFAULT_ANSWER_WITHIN = FollowupPolicy._meta.get_field("answer_within_seconds").default

PERCENT, COUNT, PER_DAY = "percent", "count", "per_day"
_HUNDREDTH = Decimal("0.01")


# ---------------------------------------------------------------- scope, period, metric


def unit_q(path: str, ids) -> Q:
    """The rows whose unit by ``path`` is one of ``ids``. A team's path
    through a staff member (``owner__team``) is written as the member
    (``owner`` one of the teams' staff): the same rows, found by the staff
    member's indexes instead of reading every row to join its team."""
    head, _sep, last = path.rpartition("__")
    if not head or last != "team":
        return Q(**{f"{path}__in": ids})
    return staff_q(head, teams=ids)


def staff_q(path: str, *, agents=(), teams=()) -> Q:
    """The rows whose staff member (``path``) is one of ``agents`` or in one
    of ``teams``: one index condition on the member's column."""
    members = User.objects.filter(Q(pk__in=agents) | Q(team__in=teams)).order_by().values("pk")
    if connection.vendor != "postgresql":
        return Q(**{f"{path}__in": members})
    # "= ANY(ARRAY(subquery))": the members are read once (an InitPlan) and
    # the condition is an index condition on the member's column, which
    # "IN (subquery)" or a join to the team is not (0.2 s to 0.02 s for a
    # store's teams' lead figures at 1M leads).
    return Q(AnyOf(F(path), ArraySubquery(members)))


class AnyOf(Func):
    """``lhs = ANY(array)``, a condition (PostgreSQL)."""

    output_field = BooleanField()

    def as_sql(self, compiler, connection, **extra_context):
        lhs, array = self.get_source_expressions()
        lhs_sql, lhs_params = compiler.compile(lhs)
        array_sql, array_params = compiler.compile(array)
        return f"{lhs_sql} = ANY({array_sql})", (*lhs_params, *array_params)


@dataclass(frozen=True)
class Scope:
    kind: str
    id: int | None = None

    def __post_init__(self):
        if self.kind not in SCOPE_KINDS:
            raise ValueError(f"unknown scope kind {self.kind!r}")
        if (self.kind == "group") != (self.id is None):
            raise ValueError("a group scope has no id; every other scope has one")

    def q(self, paths: dict[str, str]) -> Q:
        """The filter putting a base table's rows in this scope."""
        if self.kind == "group":
            return Q()
        if self.kind == "team":
            return unit_q(paths["team"], [self.id])
        return Q(**{paths[self.kind]: self.id})

    def stores(self):
        """The stores the scope lies in (one query for agent and team)."""
        if self.kind == "group":
            return Store.objects.all()
        if self.kind == "store":
            return Store.objects.filter(pk=self.id)
        model = User if self.kind == "agent" else Team
        return Store.objects.filter(pk__in=model.objects.filter(pk=self.id).values("store"))


@dataclass(frozen=True)
class Period:
    """Local dates, ``start`` and ``end`` both inclusive."""

    start: date
    end: date

    def __post_init__(self):
        if self.end < self.start:
            raise ValueError("a period ends on or after its start")

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        return cls(date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]))

    @classmethod
    def parse_month(cls, text: str) -> Period:
        """``YYYY-MM``; ValueError otherwise."""
        year, _dash, month = (text or "").partition("-")
        if not (len(year) == 4 and year.isdigit() and month.isdigit() and len(month) == 2):
            raise ValueError("a month is written YYYY-MM")
        return cls.month(int(year), int(month))

    @classmethod
    def current_month(cls, today: date | None = None) -> Period:
        today = today or timezone.localdate()
        return cls.month(today.year, today.month)

    @property
    def start_at(self):
        return local_day_start(self.start)

    @property
    def end_at(self):
        """Exclusive: local midnight after the last day."""
        return local_day_start(self.end + timedelta(days=1))

    @property
    def is_month(self) -> bool:
        return self == Period.month(self.start.year, self.start.month)

    @property
    def month_label(self) -> str | None:
        return f"{self.start:%Y-%m}" if self.is_month else None

    def months(self) -> list[date]:
        """The first day of every month the period touches."""
        months, day = [], self.start.replace(day=1)
        while day <= self.end:
            months.append(day)
            day = (day + timedelta(days=32)).replace(day=1)
        return months

    def previous(self) -> Period:
        if self.is_month:
            before = self.start - timedelta(days=1)
            return Period.month(before.year, before.month)
        length = self.end - self.start
        return Period(self.start - length - timedelta(days=1), self.start - timedelta(days=1))

    def next(self) -> Period:
        if self.is_month:
            after = self.end + timedelta(days=1)
            return Period.month(after.year, after.month)
        length = self.end - self.start
        return Period(self.end + timedelta(days=1), self.end + length + timedelta(days=1))


def percent(numerator, denominator) -> Decimal | None:
    """numerator ÷ denominator × 100, two decimals half up; None for an empty base."""
    if not denominator:
        return None
    return (Decimal(100) * Decimal(numerator) / Decimal(denominator)).quantize(
        _HUNDREDTH, ROUND_HALF_UP
    )


def quotient(numerator, denominator) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(_HUNDREDTH, ROUND_HALF_UP)


@dataclass(frozen=True)
class Metric:
    numerator: int
    denominator: int | None
    value: Decimal | int | None
    unit: str = PERCENT

    @classmethod
    def rate(cls, numerator: int, denominator: int) -> Metric:
        return cls(numerator, denominator, percent(numerator, denominator), PERCENT)

    @classmethod
    def count(cls, value: int) -> Metric:
        return cls(value, None, value, COUNT)

    @classmethod
    def per_day(cls, numerator: int, denominator: int) -> Metric:
        return cls(numerator, denominator, quotient(numerator, denominator), PER_DAY)


def without_jit(fn):
    """Run ``fn``'s queries with PostgreSQL's JIT compiler off. The KPI
    queries are big aggregates whose estimated cost passes ``jit_above_cost``
    at volume; compiling them can take longer than running them (measured by
    ``tests/bench/test_kpi_bench.py``: a group's year of leads ran in 4.8 s
    without JIT, 6.8–7.1 s with it, the plan showing 8.7 s of JIT work
    across the workers). ``SET LOCAL`` ends with the transaction; same
    results. Costs three statements (savepoint, set_config, release) on PostgreSQL,
    so ``compute`` itself, held to a dozen queries, does not use it."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if connection.vendor != "postgresql":
            return fn(*args, **kwargs)
        with transaction.atomic(), pg_settings(jit="off"):
            return fn(*args, **kwargs)

    return wrapper
