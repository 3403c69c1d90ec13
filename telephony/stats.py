"""Call statistics and verified follow-ups for supervisors and managers
(issue 5 §6 and §7; DESIGN §3 "Call productivity", §4).

Reads only. Every figure is a grouped SQL aggregate over the rows the user
may see (``visible_to``), never a loop over calls or follow-ups; rates are
worked out from the aggregated counts, as percentages with two decimals and
None when there is nothing to divide by (DESIGN §3), and each comes with its
numerator and denominator so a page can say what it counts.

- Days are local (``TIME_ZONE``, Asia/Shanghai): a call at 00:10 on
  1 October belongs to 1 October.
- "Answered" is answered by an agent (``Call.answered_by``): the IVR,
  voicemail or a queue's hold answering is not. "Answered in time" (seed
  001: within three rings) is ``telephony.models.answered_in_time_q``, the
  one rule the KPIs use too, out of *all* inbound calls: a missed call was
  not answered in time either (the call centre's service level).
- Internal calls (extension to extension) are counted apart and are in no
  customer figure; talk time is the customer calls' billed seconds.
- A follow-up is *checkable* when its time lies within the store's imported
  call log (from the earliest to the latest imported call's start): only
  then can a missing call mean the call was not made. Later ones are "not
  yet checkable" (the next import may prove them), earlier ones predate the
  log, and a store with no imported call has nothing to check against.

Known limits: team figures follow the agents' *current* team (no team
history is kept); a gap in the imported files (a day never imported) is not
detected, its follow-ups count as unverified.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from dcc.models import Store, User
from dcc.policy import Level, scope_level
from dcc.roles import Role
from followups.models import Channel, FollowUp, FollowupPolicy
from telephony.models import Call, Direction, answered_in_time_q, answered_q

DEFAULT_ANSWER_WITHIN = FollowupPolicy._meta.get_field("answer_within_seconds").default
DEFAULT_VERIFY_WINDOW = FollowupPolicy._meta.get_field("verify_window_minutes").default

# Staff listed with a zero row when they made no call: the people who work
# a call queue (as the supervisor's team health lists them).
CALLING_ROLES = (Role.AGENT, Role.CALLER)

GROUPINGS = ("agent", "day", "agent_day")

_HUNDREDTH = Decimal("0.01")


def percent(numerator: int, denominator: int) -> Decimal | None:
    """numerator ÷ denominator × 100, two decimals; None for an empty base."""
    if not denominator:
        return None
    return (Decimal(100 * numerator) / Decimal(denominator)).quantize(_HUNDREDTH, ROUND_HALF_UP)


def _narrow(user, queryset, *, agent: str = "agent"):
    """The policy's rows, narrowed to the people a level answers for: a
    supervisor's figures are the team's agents' (a call on a team lead made
    by someone else is that someone's), an agent's their own. ``agent`` is
    the path to the person ("pk" for staff themselves)."""
    level = scope_level(user)
    team = "team" if agent == "pk" else f"{agent}__team"
    if level is Level.TEAM:
        return queryset.filter(**{team: user.team_id})
    if level is Level.OWN:
        return queryset.filter(**{agent: user.pk})
    return queryset


# ---------------------------------------------------------------- stores


@dataclass
class StoreLog:
    """A store's two telephony settings and how far its call log reaches."""

    store: Store
    answer_within_seconds: int
    verify_window_minutes: int
    first_call: datetime | None
    last_call: datetime | None

    @property
    def has_log(self) -> bool:
        return self.last_call is not None


def store_logs(user, *, store: Store | None = None) -> list[StoreLog]:
    """The stores ``user`` may see, with their settings (the model defaults
    where a store has no policy row) and their earliest and latest imported
    call: one query, each bound an index lookup on (store, started_at)."""
    calls = Call.objects.filter(store=OuterRef("pk"))
    stores = Store.objects.visible_to(user)
    if store is not None:
        stores = stores.filter(pk=store.pk)
    stores = stores.annotate(
        answer_within=Coalesce(
            F("followup_policy__answer_within_seconds"), Value(DEFAULT_ANSWER_WITHIN)
        ),
        window=Coalesce(F("followup_policy__verify_window_minutes"), Value(DEFAULT_VERIFY_WINDOW)),
        first_call=Subquery(calls.order_by("started_at").values("started_at")[:1]),
        last_call=Subquery(calls.order_by("-started_at").values("started_at")[:1]),
    ).order_by("code")
    return [
        StoreLog(
            store=s,
            answer_within_seconds=s.answer_within,
            verify_window_minutes=s.window,
            first_call=s.first_call,
            last_call=s.last_call,
        )
        for s in stores
    ]


# ---------------------------------------------------------------- call statistics


@dataclass
class CallStats:
    """One row of call statistics: an agent, a day, or an agent's day."""

    agent: User | None = None
    day: date | None = None
    inbound: int = 0
    inbound_answered: int = 0
    inbound_in_time: int = 0
    outbound: int = 0
    outbound_answered: int = 0
    internal: int = 0
    talk_seconds: int = 0
    new_callers: int = 0
    # Days each person made or took customer calls, summed over the people:
    # the base of "calls per person per day" (seed 001: 50–60 inbound and
    # 70–80 outbound per person per day). An agent's row: their days with
    # calls; a day's row: the people who called that day.
    agent_days: int = 0

    COUNTS = (
        "agent_days",
        "inbound",
        "inbound_answered",
        "inbound_in_time",
        "outbound",
        "outbound_answered",
        "internal",
        "talk_seconds",
        "new_callers",
    )

    @property
    def customer_calls(self) -> int:
        return self.inbound + self.outbound

    @property
    def answered(self) -> int:
        return self.inbound_answered + self.outbound_answered

    @property
    def answer_rate(self) -> Decimal | None:
        return percent(self.inbound_answered, self.inbound)

    @property
    def in_time_rate(self) -> Decimal | None:
        return percent(self.inbound_in_time, self.inbound)

    @property
    def connect_rate(self) -> Decimal | None:
        return percent(self.outbound_answered, self.outbound)

    @property
    def inbound_per_day(self) -> Decimal | None:
        return _per(self.inbound, self.agent_days)

    @property
    def outbound_per_day(self) -> Decimal | None:
        return _per(self.outbound, self.agent_days)

    @property
    def talk_time(self) -> str:
        return hms(self.talk_seconds)

    @property
    def average_talk_time(self) -> str:
        seconds = self.average_talk_seconds
        return "" if seconds is None else hms(seconds)

    @property
    def average_talk_seconds(self) -> int | None:
        """Talk time per answered customer call, whole seconds."""
        if not self.answered:
            return None
        return int((Decimal(self.talk_seconds) / self.answered).quantize(1, ROUND_HALF_UP))


def _per(count: int, days: int) -> Decimal | None:
    if not days:
        return None
    return (Decimal(count) / days).quantize(Decimal("0.1"), ROUND_HALF_UP)


def hms(seconds: int) -> str:
    """3725 → "1:02:05"."""
    minutes, second = divmod(int(seconds), 60)
    hours, minute = divmod(minutes, 60)
    return f"{hours}:{minute:02d}:{second:02d}"


def total(rows: list[CallStats]) -> CallStats:
    """The totals row of a table (a sum of its rows' counts)."""
    result = CallStats()
    for row in rows:
        for name in CallStats.COUNTS:
            setattr(result, name, getattr(result, name) + getattr(row, name))
    return result


def _call_counts(by: str) -> dict:
    inbound = Q(direction=Direction.INBOUND)
    outbound = Q(direction=Direction.OUTBOUND)
    answered = answered_q()
    customer = inbound | outbound
    if by == "agent":
        days = TruncDate("started_at", tzinfo=timezone.get_default_timezone())
        agent_days = Count(days, distinct=True, filter=customer & Q(agent__isnull=False))
    else:  # a day's row (or an agent's day): the people calling that day
        agent_days = Count("agent", distinct=True, filter=customer)
    return {
        "agent_days": agent_days,
        "inbound": Count("pk", filter=inbound),
        "inbound_answered": Count("pk", filter=inbound & answered),
        "inbound_in_time": Count("pk", filter=answered_in_time_q()),
        "outbound": Count("pk", filter=outbound),
        "outbound_answered": Count("pk", filter=outbound & answered),
        "internal": Count("pk", filter=Q(direction=Direction.INTERNAL)),
        "talk_seconds": Coalesce(Sum("billsec", filter=customer), Value(0)),
        "new_callers": Count("pk", filter=inbound & Q(new_caller=True)),
    }


def scoped_calls(user, *, since: datetime, until: datetime, store=None, agent=None):
    """The calls started in [since, until) that ``user``'s figures cover."""
    calls = Call.objects.visible_to(user).filter(started_at__gte=since, started_at__lt=until)
    calls = _narrow(user, calls)
    if store is not None:
        calls = calls.filter(store=store)
    if agent is not None:
        calls = calls.filter(agent=agent)
    return calls


def staff_in_scope(user, *, store=None):
    """The people whose figures ``user`` reads (a drill-down's agent is
    fetched from here: anyone else is a 404)."""
    staff = _narrow(user, User.objects.visible_to(user), agent="pk")
    if store is not None:
        staff = staff.filter(store=store)
    return staff


def calling_staff(user, *, store=None):
    """The active agents and callers whose figures ``user`` reads."""
    return staff_in_scope(user, store=store).active().filter(role__in=CALLING_ROLES)


def call_stats(
    user,
    *,
    since: datetime,
    until: datetime,
    by: str = "agent",
    store: Store | None = None,
    agent: User | None = None,
) -> list[CallStats]:
    """Call statistics over [since, until), per agent, per local day or per
    agent and day (``by``), optionally of one store or one agent.

    Per agent, every active agent and caller in scope has a row (no calls is
    a figure too), then anyone else who made calls, then the calls on
    extensions nobody had (agent None) for a manager or administrator.
    Days are the days with calls, in order. One aggregate query, and for
    rows per agent one query for the people.
    """
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {GROUPINGS}")
    calls = scoped_calls(user, since=since, until=until, store=store, agent=agent)
    keys = []
    if by in ("agent", "agent_day"):
        keys.append("agent")
    if by in ("day", "agent_day"):
        calls = calls.annotate(day=TruncDate("started_at", tzinfo=timezone.get_default_timezone()))
        keys.append("day")
    grouped = calls.values(*keys).annotate(**_call_counts(by)).order_by(*keys)
    rows = [
        CallStats(
            agent=row.get("agent"),
            day=row.get("day"),
            **{name: row[name] for name in CallStats.COUNTS},
        )
        for row in grouped
    ]
    if by == "day":
        return rows
    return _with_people(user, rows, store=store, agent=agent, zero_rows=by == "agent")


def _with_people(user, rows, *, store, agent, zero_rows: bool) -> list[CallStats]:
    """Put the people on rows that carry agent ids; with ``zero_rows``, add
    the calling staff who made no call; order by team and name."""
    ids = {row.agent for row in rows if row.agent is not None}
    people = User.objects.select_related("team")
    if zero_rows and agent is None:
        people = people.filter(Q(pk__in=ids) | Q(pk__in=calling_staff(user, store=store)))
    else:
        people = people.filter(pk__in=ids)
    by_id = {person.pk: person for person in people}
    for row in rows:
        row.agent = by_id.get(row.agent)
    if zero_rows:
        rows += [CallStats(agent=person) for pk, person in by_id.items() if pk not in ids]

    def order(row: CallStats):
        person, day = row.agent, row.day or date.min
        if person is None:  # calls on extensions nobody had: last
            return (1, "", "", day)
        return (0, person.team.name if person.team else "", person.display_name, day)

    return sorted(rows, key=order)


# ---------------------------------------------------------------- verified follow-ups


@dataclass
class Verification:
    """One agent's call follow-ups in a period, by what the call log says."""

    agent: User | None = None
    logged: int = 0
    verified: int = 0
    unverified: int = 0
    # Unverified, after the latest imported call of the store.
    not_yet_checkable: int = 0
    # Unverified, before the earliest imported call of the store.
    before_log: int = 0
    # Unverified, in a store without any imported call.
    no_log: int = 0

    COUNTS = ("logged", "verified", "unverified", "not_yet_checkable", "before_log", "no_log")

    @property
    def checked(self) -> int:
        return self.verified + self.unverified

    @property
    def verified_rate(self) -> Decimal | None:
        return percent(self.verified, self.checked)

    @property
    def only_without_log(self) -> bool:
        """Nothing of the agent's could be checked: their store has no log."""
        return self.no_log > 0 and self.no_log == self.logged


def _coverage(logs: list[StoreLog]) -> tuple[Q, Q, Q, Q]:
    """Conditions on follow-ups: inside their store's call log, after it,
    before it, in a store without one."""
    inside = after = before = Q(pk__in=[])
    with_log = []
    for log in logs:
        if not log.has_log:
            continue
        with_log.append(log.store.pk)
        in_store = Q(store_id=log.store.pk)
        inside |= in_store & Q(occurred_at__gte=log.first_call, occurred_at__lte=log.last_call)
        after |= in_store & Q(occurred_at__gt=log.last_call)
        before |= in_store & Q(occurred_at__lt=log.first_call)
    return inside, after, before, ~Q(store_id__in=with_log)


def _call_followups(user, *, since: datetime, until: datetime, store=None, agent=None):
    followups = FollowUp.objects.visible_to(user).filter(
        channel=Channel.CALL, occurred_at__gte=since, occurred_at__lt=until
    )
    followups = _narrow(user, followups)
    if store is not None:
        followups = followups.filter(store=store)
    if agent is not None:
        followups = followups.filter(agent=agent)
    return followups


def verification_summary(
    user,
    *,
    since: datetime,
    until: datetime,
    store: Store | None = None,
    logs: list[StoreLog] | None = None,
) -> list[Verification]:
    """Per agent, the follow-ups logged as calls in [since, until): verified
    by a PBX call, unverified (checkable and no call found), not yet
    checkable, before the call log, in a store with no call log. One
    aggregate query, one for the stores' logs (unless ``logs`` is given),
    one for the people."""
    if logs is None:
        logs = store_logs(user, store=store)
    inside, after, before, no_log = _coverage(logs)
    missing = Q(verified_call__isnull=True)
    grouped = (
        _call_followups(user, since=since, until=until, store=store)
        .values("agent")
        .annotate(
            logged=Count("pk"),
            verified=Count("pk", filter=~missing),
            unverified=Count("pk", filter=missing & inside),
            not_yet_checkable=Count("pk", filter=missing & after),
            before_log=Count("pk", filter=missing & before),
            no_log=Count("pk", filter=missing & no_log),
        )
        .order_by()
    )
    rows = [
        Verification(agent=row["agent"], **{name: row[name] for name in Verification.COUNTS})
        for row in grouped
    ]
    people = User.objects.select_related("team").filter(pk__in=[row.agent for row in rows])
    by_id = {person.pk: person for person in people}
    for row in rows:
        row.agent = by_id[row.agent]
    rows.sort(
        key=lambda row: (
            -row.unverified,
            row.agent.team.name if row.agent.team else "",
            row.agent.display_name,
        )
    )
    return rows


def verification_total(rows: list[Verification]) -> Verification:
    result = Verification()
    for row in rows:
        for name in Verification.COUNTS:
            setattr(result, name, getattr(result, name) + getattr(row, name))
    return result


def unverified_followups(
    user,
    *,
    since: datetime,
    until: datetime,
    agent: User | None = None,
    store: Store | None = None,
    logs: list[StoreLog] | None = None,
):
    """The checkable call follow-ups in [since, until) that no PBX call
    proves, newest first, with their lead and agent: the drill-down."""
    if logs is None:
        logs = store_logs(user, store=store)
    inside, _after, _before, _no_log = _coverage(logs)
    return (
        _call_followups(user, since=since, until=until, store=store, agent=agent)
        .filter(inside, verified_call__isnull=True)
        .select_related("lead__customer", "agent")
        .order_by("-occurred_at", "-pk")
    )
