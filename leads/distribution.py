"""Distribution on arrival: a lead that arrives without an owner goes to
someone by the store's rules (``DistributionRule``), whatever the path (the
form, the API, an Excel import, a connector): ``lead_create`` and the
importer call ``Planner`` before they write, so the lead is saved once, with
its owner and the rule that chose it.

A rule's conditions (source, channel, intended model, level, time of day and
day of the week at arrival; an empty one matches anything) pick the lead;
its target (a team's agents and callers, or listed staff) and method (round
robin, fewest open leads, weighted) pick the person. Absent staff (today's
``dcc.Absence``) and staff who reached the rule's daily cap (leads given by
rules today) are skipped; a rule with nobody left passes the lead to the
next rule; with no rule left the lead stays unassigned for the manager.

Concurrency: the live path locks the store's active rules
(``SELECT … FOR UPDATE``) before it reads the counts, so two leads arriving
at once are planned one after the other and round robin's pointer, the
fewest-open counts and the caps see each other's result. A bulk import
plans all its rows in memory from one read of that state (a handful of
queries whatever the row count) under the same lock.

``dry_run`` plans the store's last 50 leads with the same code, writing
nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from dcc import audit
from dcc.models import Absence, Store, User
from dcc.policy import LEAD_OWNER_ROLES, require
from dcc.roles import Role
from dcc.timeutils import local_day_start
from leads.models import DistributionMethod, DistributionRule, DistributionTarget, Lead, Source

# A team's members who take leads by rule: its agents and callers (the
# supervisor leads the team; list them by name to include them).
TEAM_ROLES = (Role.AGENT, Role.CALLER)
DRY_RUN_LEADS = 50
AUDIT_EVENT = "leads.lead.distributed"


@dataclass
class _Rule:
    rule: DistributionRule
    channel_ids: set[int] = field(default_factory=set)
    model_ids: set[int] = field(default_factory=set)
    staff: list[User] = field(default_factory=list)  # by id
    weights: dict[int, int] = field(default_factory=dict)


def matches(rule: DistributionRule, lead, at: datetime, *, channel_ids=(), model_ids=()) -> bool:
    """Whether ``lead`` (anything with source, channel_id, intended_model_id
    and level) arriving ``at`` meets every condition of ``rule``."""
    if rule.sources and lead.source not in rule.sources:
        return False
    if rule.levels and lead.level not in rule.levels:
        return False
    if channel_ids and lead.channel_id not in channel_ids:
        return False
    if model_ids and lead.intended_model_id not in model_ids:
        return False
    local = timezone.localtime(at)
    if rule.weekdays and local.weekday() not in rule.weekdays:
        return False
    return in_window(local.time(), rule.time_from, rule.time_until)


def in_window(moment: time, start: time | None, end: time | None) -> bool:
    """[start, end) of a day; an end before the start spans midnight."""
    if start is None and end is None:
        return True
    if start is not None and end is not None and end < start:
        return moment >= start or moment < end
    return (start is None or moment >= start) and (end is None or moment < end)


class Planner:
    """The store's rules and the state they decide by (today's absences, open
    leads, what rules gave each person today, round robin's pointers), read
    once; ``choose`` then plans any number of leads in memory, each choice
    counting for the next. ``lock`` takes the rules' row locks first (the
    caller's transaction holds them). ``rules`` narrows to those rules (the
    dry run of one rule, active or not)."""

    def __init__(self, store: Store, *, now=None, lock=False, rules=None):
        self.store = store
        self.now = now or timezone.now()
        if rules is None:
            queryset = DistributionRule.objects.filter(store=store, is_active=True)
            if lock:
                queryset = queryset.select_for_update()
            rules = list(queryset.order_by("position", "id"))
        self.rules = [_Rule(rule) for rule in rules]
        self.moved: dict[int, DistributionRule] = {}  # rules whose pointer moved
        if self.rules:
            self._load()

    def _load(self) -> None:
        by_id = {entry.rule.pk: entry for entry in self.rules}
        ids = list(by_id)
        for rule_id, channel_id in DistributionRule.channels.through.objects.filter(
            distributionrule_id__in=ids
        ).values_list("distributionrule_id", "channel_id"):
            by_id[rule_id].channel_ids.add(channel_id)
        for rule_id, model_id in DistributionRule.intended_models.through.objects.filter(
            distributionrule_id__in=ids
        ).values_list("distributionrule_id", "vehiclemodel_id"):
            by_id[rule_id].model_ids.add(model_id)
        targets = list(
            DistributionTarget.objects.filter(rule_id__in=ids).values_list(
                "rule_id", "staff_id", "weight"
            )
        )
        team_ids = {entry.rule.team_id for entry in self.rules if entry.rule.team_id}
        people = {
            person.pk: person
            for person in User.objects.filter(
                store=self.store, is_active=True, role__in=LEAD_OWNER_ROLES
            ).filter(pk__in=[staff_id for _r, staff_id, _w in targets])
        }
        members = defaultdict(list)
        if team_ids:
            for person in User.objects.filter(
                store=self.store, is_active=True, role__in=TEAM_ROLES, team_id__in=team_ids
            ):
                people.setdefault(person.pk, person)
                members[person.team_id].append(person)
        for rule_id, staff_id, weight in targets:
            if staff_id in people:
                by_id[rule_id].staff.append(people[staff_id])
                by_id[rule_id].weights[staff_id] = weight
        for entry in self.rules:
            if not entry.staff and entry.rule.team_id:
                entry.staff = list(members[entry.rule.team_id])
            entry.staff.sort(key=lambda person: person.pk)
        staff_ids = list(people)
        day = timezone.localdate(self.now)
        day_start = local_day_start(day)
        self.absent = Absence.objects.absent_ids(staff_ids, day)
        self.open = _counts(Lead.objects.open().filter(owner_id__in=staff_ids), "owner_id")
        given = Lead.objects.filter(owner_id__in=staff_ids, distributed_at__gte=day_start)
        self.given_today = _counts(given, "owner_id")
        self.rule_today = defaultdict(int)
        for (rule_id, owner_id), count in _counts(
            Lead.objects.filter(distribution_rule_id__in=ids, distributed_at__gte=day_start),
            "distribution_rule_id",
            "owner_id",
        ).items():
            self.rule_today[rule_id, owner_id] = count

    def choose(
        self, lead, at: datetime | None = None
    ) -> tuple[DistributionRule | None, User | None]:
        """The first rule that matches ``lead`` and has someone to take it,
        and that person; (None, None) when no rule can. Counts the choice."""
        at = at or self.now
        for entry in self.rules:
            rule = entry.rule
            if not matches(
                rule, lead, at, channel_ids=entry.channel_ids, model_ids=entry.model_ids
            ):
                continue
            person = self._pick(entry)
            if person is None:
                continue
            self.open[person.pk] = self.open.get(person.pk, 0) + 1
            self.given_today[person.pk] = self.given_today.get(person.pk, 0) + 1
            self.rule_today[rule.pk, person.pk] += 1
            if rule.method == DistributionMethod.ROUND_ROBIN:
                rule.last_staff_id = person.pk
                self.moved[rule.pk] = rule
            return rule, person
        return None, None

    def _pick(self, entry: _Rule) -> User | None:
        rule = entry.rule
        cap = rule.daily_cap
        eligible = [
            person
            for person in entry.staff
            if person.pk not in self.absent
            and (not cap or self.given_today.get(person.pk, 0) < cap)
        ]
        if not eligible:
            return None
        if rule.method == DistributionMethod.FEWEST_OPEN:
            return min(
                eligible,
                key=lambda p: (self.open.get(p.pk, 0), self.given_today.get(p.pk, 0), p.pk),
            )
        if rule.method == DistributionMethod.WEIGHTED:
            return min(
                eligible,
                key=lambda p: (
                    (self.rule_today[rule.pk, p.pk] + 1) / entry.weights.get(p.pk, 1),
                    p.pk,
                ),
            )
        pointer = rule.last_staff_id or 0
        return next((p for p in eligible if p.pk > pointer), eligible[0])

    def assign(self, lead) -> bool:
        """Give an unsaved lead (arriving now) its owner and rule; False when
        no rule takes it."""
        rule, person = self.choose(lead, self.now)
        if rule is None:
            return False
        lead.owner = person
        lead.distribution_rule = rule
        lead.distributed_at = self.now
        return True

    def save_pointers(self) -> None:
        """Write round robin's moved pointers (one UPDATE per moved rule)."""
        for rule in self.moved.values():
            DistributionRule.objects.filter(pk=rule.pk).update(last_staff_id=rule.last_staff_id)
        self.moved.clear()


def _counts(queryset, *keys) -> dict:
    rows = queryset.order_by().values_list(*keys).annotate(n=Count("id"))
    if len(keys) == 1:
        return {row[0]: row[1] for row in rows}
    return {tuple(row[:-1]): row[-1] for row in rows}


def record(leads: list, *, actor) -> None:
    """Audit the leads the rules gave an owner (one INSERT for them all);
    the lead itself carries the rule (``distribution_rule``) in its row and
    its history."""
    given = [lead for lead in leads if lead.distribution_rule_id]
    if not given:
        return
    if len(given) == 1:
        lead = given[0]
        audit.record(
            AUDIT_EVENT,
            actor=actor,
            target=lead,
            rule=lead.distribution_rule_id,
            owner=lead.owner_id,
        )
        return
    audit.record_many(
        AUDIT_EVENT,
        actor=actor,
        model=Lead,
        rows=[
            (
                lead.pk,
                lead.store_id,
                {"rule": lead.distribution_rule_id, "owner": lead.owner_id},
            )
            for lead in given
        ],
    )


# ---------------------------------------------------------------- dry run


@dataclass
class DryRunRow:
    lead: Lead
    rule: DistributionRule | None
    person: User | None


def dry_run(store: Store, *, rules=None, limit: int = DRY_RUN_LEADS) -> list[DryRunRow]:
    """Where the store's last ``limit`` leads would have gone by the rules
    (all active ones, or ``rules``), each planned as it arrived (its
    ``created_at``), oldest first, from today's state. Writes nothing."""
    leads = list(
        Lead.objects.filter(store=store)
        .select_related("customer", "owner", "channel", "intended_model", "distribution_rule")
        .order_by("-created_at", "-id")[:limit]
    )
    planner = Planner(store, rules=rules)
    rows = []
    for lead in reversed(leads):
        rule, person = planner.choose(lead, lead.created_at)
        rows.append(DryRunRow(lead=lead, rule=rule, person=person))
    rows.reverse()
    return rows


# ---------------------------------------------------------------- unassigned manufacturer leads


def flag_unassigned(*, store: Store, received_before: datetime, now: datetime) -> int:
    """Flag the store's open manufacturer leads received before
    ``received_before`` that still have no owner (and are not in the pool):
    the manager sees them on the assignment page. Set-based; each lead is
    flagged once. Returns how many."""
    flagged = list(
        Lead.objects.open()
        .unassigned()
        .filter(
            store=store,
            source=Source.MANUFACTURER,
            received_at__lt=received_before,
            pooled_at__isnull=True,
            unassigned_flagged_at__isnull=True,
        )
        .values_list("pk", flat=True)
    )
    if flagged:
        Lead.objects.filter(pk__in=flagged, owner__isnull=True).update(unassigned_flagged_at=now)
        audit.record(
            "leads.lead.unassigned_flagged",
            actor=None,
            store=store,
            leads=flagged[:200],
            count=len(flagged),
            before=received_before.isoformat(),
        )
    return len(flagged)


# ---------------------------------------------------------------- the rules page's writes

RULE_FIELDS = (
    "name",
    "position",
    "is_active",
    "sources",
    "levels",
    "weekdays",
    "time_from",
    "time_until",
    "team",
    "method",
    "daily_cap",
)


@transaction.atomic
def rule_save(
    *,
    actor,
    store: Store,
    rule: DistributionRule | None = None,
    channels=(),
    intended_models=(),
    targets=(),
    **values,
) -> DistributionRule:
    """Create or change a store's rule: its conditions, its team or staff
    (``targets``: (person, weight) pairs) and method. A manager's own store
    only; the team and staff must be the store's."""
    require(actor, "leads.distribution.manage")
    if not Store.objects.visible_to(actor).filter(pk=store.pk).exists():
        raise PermissionDenied("store outside the actor's scope")
    unknown = set(values) - set(RULE_FIELDS)
    if unknown:
        raise ValueError(f"not a rule field: {sorted(unknown)}")
    if rule is None:
        rule = DistributionRule(store=store, created_by=actor)
    else:
        rule = DistributionRule.objects.select_for_update().get(pk=rule.pk, store=store)
    errors = {}
    team = values.get("team")
    if team is not None and team.store_id != store.pk:
        errors["team"] = [_("This team belongs to another store.")]
    targets = list(targets)
    for person, _weight in targets:
        if person.store_id != store.pk or person.role not in LEAD_OWNER_ROLES:
            errors["staff"] = [_("%(name)s cannot take this store's leads.") % {"name": person}]
    if bool(team) == bool(targets):
        errors["team"] = [_("Give the leads to a team or to listed staff (one of the two).")]
    if errors:
        raise ValidationError(errors)
    changed = audit.assign(rule, values)
    rule.full_clean(exclude=["store", "created_by"])
    rule.save()
    rule.channels.set(channels)
    rule.intended_models.set(intended_models)
    rule.targets.all().delete()
    DistributionTarget.objects.bulk_create(
        [DistributionTarget(rule=rule, staff=person, weight=weight) for person, weight in targets]
    )
    audit.record(
        "leads.distribution.rule_saved",
        actor=actor,
        target=rule,
        changed=changed,
        channels=[channel.pk for channel in channels],
        intended_models=[model.pk for model in intended_models],
        targets=[[person.pk, weight] for person, weight in targets],
    )
    return rule


@transaction.atomic
def rule_delete(*, actor, rule: DistributionRule) -> None:
    require(actor, "leads.distribution.manage")
    if not DistributionRule.objects.visible_to(actor).filter(pk=rule.pk).exists():
        raise PermissionDenied("rule outside the actor's scope")
    audit.record("leads.distribution.rule_deleted", actor=actor, target=rule, name=rule.name)
    rule.delete()
