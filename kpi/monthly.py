"""Figures of closed months, stored once and read back (issue 20).

A closed month's figures only move when late data arrives: a call log
imported late, a follow-up entered after the fact, a back-dated visit or
deal, a lead given to someone else, a target or a meeting entered for a past
month. The lower apps announce each of those (``kpi.receivers``), and
``invalidate`` adds one to the affected months' invalidation number
(``MonthlyInvalidation.seq``) in one statement. ``months`` answers the
counts of several months of one scope: a closed month's from its stored
``MonthlyResult`` when that was computed at the month's current number,
otherwise computed and stored; the current month (and any period that is not
a whole closed month) always computed.

Why numbers rather than deleting rows: a page computing a month while the
late data commits must not store what it read before. The page reads the
month's number *before* computing and stores its counts with it; a change
committed meanwhile has raised the number (the receivers run after the
writer's commit, ``transaction.on_commit``), so those counts are never read.

The current month is never stored: its figures change with every call of
the day, so a stored copy would be stale at once (a short time-to-live would
show figures minutes old on the pages agents and supervisors watch during
the day). It is cheap anyway: one month of one scope, by index.

Besides every KPI's counts of a scope and month (``kpis``) and the trend's,
the dashboards store, under the same numbers, a closed month's comparison
(the counts of each agent, team or store of the scope: ``unit_counts``) and
the headline's counts of the first days of a closed month (the current
month so far is compared with as many days of earlier months:
``first_days``). A run of whole closed months (the KPI page's twelve
months) is the sum of its months' counts, but for the leads carried over
(the first month's) and the first-time callers (counted over the run).

``metric_set`` names what is stored and ``VERSIONS`` its version: change a
definition (the counts a KPI is made of, the trend's counts), raise the
version, and earlier rows are simply never read again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from kpi.metrics import Period, Scope
from kpi.metrics.figures import compute_counts
from kpi.metrics.table import COUNTS
from kpi.models import MonthlyInvalidation, MonthlyResult

KPIS_SET, TREND_SET = "kpis", "trend"
# The dashboards' comparisons: the compared KPIs' counts of every agent,
# team or store of the scope (``kpi.dashboards.compare``).
COMPARE_SETS = {by: f"compare-{by}" for by in ("agent", "team", "store")}
# The dashboard headline's counts of the first days of a closed month (the
# current month so far is compared with as many days of earlier months):
# stored as "headline:<days>", the counts of ``kpi.dashboards.HEADLINE``'s
# tables only. Raise its version when the headline's KPIs change.
HEADLINE_SET = "headline"
# The dashboards' leads, calls and deals per source and channel of a closed
# month ("sources") or of its first days ("sources:<days>").
SOURCES_SET = "sources"
VERSIONS = {
    KPIS_SET: 1,
    TREND_SET: 1,
    HEADLINE_SET: 1,
    SOURCES_SET: 1,
    **dict.fromkeys(COMPARE_SETS.values(), 1),
}
# Invalidating "every month" marks the months from this one on.
EPOCH = date(2015, 1, 1)


def is_closed(period: Period, today: date) -> bool:
    """A whole month that ended before today's month began."""
    return period.is_month and period.start < today.replace(day=1)


def is_closed_first_days(period: Period, today: date) -> bool:
    """The first days (not all) of a month that ended before today's month
    began."""
    month = Period.month(period.start.year, period.start.month)
    return (
        period.start == month.start
        and month.start <= period.end < month.end
        and month.start < today.replace(day=1)
    )


def months(
    scope: Scope,
    periods: list[Period],
    metric_set: str,
    count: Callable[[list[Period]], dict[date, dict]],
    *,
    today: date | None = None,
    usable: Callable[[dict], bool] | None = None,
    storable: Callable[[Period, date], bool] = is_closed,
) -> dict[date, dict]:
    """``{period.start: counts}`` for every period: stored counts for the
    closed months computed at their current invalidation number (and, with
    ``usable``, that it accepts); the rest from ``count(periods still to
    compute)`` (answering ``{start: counts}``), whose closed months are then
    stored. ``storable``: which periods are stored (by default the closed
    months; each period is keyed by its month, so a metric set holds one
    kind of period)."""
    today = today or timezone.localdate()
    closed = [p.start for p in periods if storable(p, today)]
    found: dict[date, dict[str, int]] = {}
    seqs: dict[date, int] = {}
    if closed:
        seqs = dict(
            MonthlyInvalidation.objects.filter(month__in=closed).values_list("month", "seq")
        )
        key = _key(scope, metric_set)
        for month, seq, counts in MonthlyResult.objects.filter(month__in=closed, **key).values_list(
            "month", "seq", "counts"
        ):
            if seq == seqs.get(month, 0) and (usable is None or usable(counts)):
                found[month] = counts
    missing = [p for p in periods if p.start not in found]
    if missing:
        computed = count(missing)
        found.update({p.start: computed[p.start] for p in missing})
        _store(
            scope,
            metric_set,
            {m: (computed[m], seqs.get(m, 0)) for m in closed if m in computed},
        )
    return found


def kpis(
    scope: Scope,
    periods: list[Period],
    *,
    today: date | None = None,
    tables: tuple[str, ...] | None = None,
) -> dict[date, dict[str, int]]:
    """Every KPI's counts (``kpi.metrics.figures.compute_counts``) of each
    period: ``metrics_from`` turns them into the figures of ``compute``.
    ``tables``: a page showing only some KPIs reads only their tables for a
    period that is never stored (the current month, days of a month); a
    closed month is always counted whole, to be stored."""
    today = today or timezone.localdate()

    def count(todo):
        result = {}
        for p in todo:
            if closed_months(p, today):
                result[p.start] = _over_months(scope, p, today)
            else:
                result[p.start] = compute_counts(
                    scope, p, today=today, tables=None if is_closed(p, today) else tables
                )
        return result

    return months(scope, periods, KPIS_SET, count, today=today)


# Counts of a run of months that are not the sum of the months' counts:
# leads carried over into the run are those carried into its first month
# (``carried_over_q`` reads only the period's start); a first-time caller is
# the earliest call of a number within the whole run (a number unknown to
# every lead can call as one in two months), counted live.
FIRST_MONTH_COUNTS = ("carried_over",)
LIVE_TABLES = ("callers",)


def closed_months(period: Period, today: date) -> list[Period]:
    """The months of a period of two or more whole closed months (the KPI
    page's twelve months), else []."""
    if period.is_month or period.start.day != 1:
        return []
    runs = [Period.month(m.year, m.month) for m in period.months()]
    if runs[-1].end != period.end or not all(is_closed(m, today) for m in runs):
        return []
    return runs


def _over_months(scope: Scope, period: Period, today: date) -> dict[str, int]:
    """The counts of a run of closed months from the months' stored counts
    (computed and stored when missing): sums, but for ``FIRST_MONTH_COUNTS``
    and the first-time callers (``LIVE_TABLES``, counted over the run)."""
    runs = closed_months(period, today)
    stored = kpis(scope, runs, today=today)
    counts = {
        name: sum(stored[month.start][name] for month in runs) for name in stored[runs[0].start]
    }
    for name in FIRST_MONTH_COUNTS:
        counts[name] = stored[runs[0].start][name]
    live = compute_counts(scope, period, today=today, tables=LIVE_TABLES)
    for name, value in live.items():
        if COUNTS[name].table in LIVE_TABLES:
            counts[name] = value
    return counts


def first_days(
    scope: Scope,
    period: Period,
    count: Callable[[Period], dict],
    *,
    today: date | None = None,
    metric_set: str = HEADLINE_SET,
) -> dict:
    """The counts (``count(period)``) of the first days of a month: stored,
    as "<metric set>:<days>", when the month is closed (late data marks the
    month, as for its whole figures); computed otherwise."""
    today = today or timezone.localdate()
    if not is_closed_first_days(period, today):
        return count(period)
    days = (period.end - period.start).days + 1
    return months(
        scope,
        [period],
        f"{metric_set}:{days}",
        _each(count),
        today=today,
        storable=is_closed_first_days,
    )[period.start]


def closed_period(
    scope: Scope,
    period: Period,
    metric_set: str,
    count: Callable[[Period], dict],
    *,
    today: date | None = None,
) -> dict:
    """``count(period)``, stored for a closed month (as ``metric_set``) or
    the first days of one (``first_days``); computed for any other period."""
    today = today or timezone.localdate()
    if is_closed(period, today):
        return months(scope, [period], metric_set, _each(count), today=today)[period.start]
    return first_days(scope, period, count, today=today, metric_set=metric_set)


def unit_counts(
    scope: Scope,
    period: Period,
    by: str,
    ids: list[int],
    count: Callable[[Period], dict[int, dict[str, int]]],
    *,
    today: date | None = None,
) -> dict[int, dict[str, int]]:
    """The counts of each agent, team or store (``by``) of ``ids`` in the
    scope's comparison for one period: ``count(period)`` answers them
    (``{id: counts}``); a closed month's are stored for the scope, and read
    back only for the same units (staff changes mark every month anyway)."""
    wanted = sorted(str(pk) for pk in ids)

    def fetch(todo):
        return {p.start: {str(pk): c for pk, c in count(p).items()} for p in todo}

    def same_units(stored: dict) -> bool:
        return sorted(stored) == wanted

    stored = months(scope, [period], COMPARE_SETS[by], fetch, today=today, usable=same_units)[
        period.start
    ]
    return {int(pk): counts for pk, counts in stored.items()}


def _each(count: Callable[[Period], dict]) -> Callable[[list[Period]], dict[date, dict]]:
    """``months``'s ``count`` from a function of one period."""
    return lambda todo: {p.start: count(p) for p in todo}


def _key(scope: Scope, metric_set: str) -> dict:
    return {
        "scope_kind": scope.kind,
        "scope_id": scope.id or 0,
        "metric_set": metric_set,
        # "headline:8": the headline set's version.
        "version": VERSIONS[metric_set.partition(":")[0]],
    }


def _store(scope: Scope, metric_set: str, rows: dict[date, tuple[dict, int]]) -> None:
    """Insert or replace the rows; a concurrent page storing the same month
    at the same time is not an error (the same counts, or stale ones that
    the month's number already rules out)."""
    if not rows:
        return
    key = _key(scope, metric_set)
    objs = [
        MonthlyResult(month=month, seq=seq, counts=counts, **key)
        for month, (counts, seq) in rows.items()
    ]
    try:
        with transaction.atomic():
            MonthlyResult.objects.bulk_create(
                objs,
                update_conflicts=True,
                unique_fields=["month", "scope_kind", "scope_id", "metric_set", "version"],
                update_fields=["seq", "counts", "computed_at"],
            )
    except IntegrityError:  # pragma: no cover - a race with another page
        pass


def invalidate(since: date | None) -> None:
    """Late data changed the figures of the months from ``since``'s on (every
    month when None), for any scope: one statement adds one to each of those
    months' invalidation numbers, up to the current month."""
    today = timezone.localdate()
    first = (since or EPOCH).replace(day=1)
    last = today.replace(day=1)
    if first > last:
        return
    marks, month = [], first
    while month <= last:
        marks.append(month)
        month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    table = connection.ops.quote_name(MonthlyInvalidation._meta.db_table)
    values = ", ".join(["(%s, 1, %s)"] * len(marks))
    now = timezone.now()
    params = [part for month in marks for part in (month, now)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (month, seq, changed_at) VALUES {values} "  # noqa: S608
            f"ON CONFLICT (month) DO UPDATE SET seq = {table}.seq + 1, "
            "changed_at = excluded.changed_at",
            params,
        )


_EVERY_MONTH = date.min


class _Pending:
    """The earliest month to mark once the current transaction commits."""

    def __init__(self, since: date):
        self.since = since

    def __call__(self):
        if getattr(connection, "_kpi_pending", None) is self:
            connection._kpi_pending = None
        invalidate(None if self.since == _EVERY_MONTH else self.since)


def months_changed(since: datetime | date | None) -> None:
    """Mark the months from ``since`` (None: every month) once the current
    transaction commits (at once outside one)."""
    if since is None:
        day = _EVERY_MONTH
    elif isinstance(since, datetime):
        day = timezone.localdate(since)
    else:
        day = since
    pending = getattr(connection, "_kpi_pending", None)
    # The same callback for every event of one transaction at one savepoint
    # level (so that rolling back a savepoint drops only its own marks).
    registered = pending is not None and any(
        func is pending and sids == set(connection.savepoint_ids)
        for sids, func, _robust in connection.run_on_commit
    )
    if registered:
        pending.since = min(pending.since, day)
        return
    pending = _Pending(day)
    if connection.in_atomic_block:
        connection._kpi_pending = pending
    transaction.on_commit(pending)
