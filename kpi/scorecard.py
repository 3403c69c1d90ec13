"""The scorecard (DESIGN §3 "Supervisor scorecard"; seed 000's 网销主管绩效考核表,
seed 003's scoring rule): item scores, the weighted total, the monthly
performance pay and the commission; the default card and the writes of a
store's card and settings.

The rule (seed 003)
===================
"达到目标值得100分,比目标值每提高1%,加分1.3分,比目标值每降低1%,减分0.3分,
介于其中按线性关系计算": 100 at the target, +1.3 points per 1 % above it,
−0.3 points per 1 % below it, linear in between. The slopes (1.3, 0.3), the
highest score (``cap_max``, 150) and the lowest (``floor``, 0) are the
store's ``ScorecardSettings``.

How "1 %" is read
-----------------
1. **A rate item (a percentage: follow-up rate, card-creation rate, meetings,
   sales completion, review score …): one percentage point** of the actual
   against the target. The seed's targets are themselves percentages (建卡率
   90 %, 再回展厅率 23 %, 30天转化率 13 %), and "比目标值每提高1%" of a rate
   is, in the dealership's own usage, the rate going up by one point (90 % →
   91 %). Reading it as a percent *of the target* would make one extra
   return visit on a 23 % target worth four times one extra card on a 90 %
   one, and would score a 13 % target three times as steeply as a 90 % one.
2. **A count or per-day item (deals, calls per day): one percent of the
   target**, i.e. (actual − target) ÷ target × 100. A count has no points
   to add, so the only reading is relative. Its target must be above 0.

Worked examples (slopes 1.3 / 0.3, cap 150, floor 0):
- target 90 %, actual 95 % → +5 points → 100 + 5 × 1.3 = 106.50
- target 90 %, actual 80 % → −10 points → 100 − 10 × 0.3 = 97.00
- target 23 %, actual 23.5 % → +0.5 point → 100 + 0.5 × 1.3 = 100.65 (linear)
- target 13 %, actual 0 % → −13 points → 100 − 13 × 0.3 = 96.10
- target 100 %, actual 150 % → +50 points → 165 → capped at 150.00
- target 20 deals, actual 25 → +25 % of the target → 100 + 25 × 1.3 = 132.50
- target 20 deals, actual 15 → −25 % → 100 − 25 × 0.3 = 92.50
The floor only bites with a steeper ``slope_below`` (at 0.3 a rate 100
points below target still scores 70).

Arithmetic
==========
Decimal throughout. The deviation is exact; every money or score figure is
rounded once, to two decimals half up: an item's score, its weighted score
(score × weight ÷ 100), the performance pay and each commission figure. The
total is the sum of the rounded weighted scores, so the page adds up.

An item without an actual (its figure has nothing to divide by: no visits,
no first-time callers, no target set, no reviews) has no score. By default
(``UnscoredItems.EXCLUDE``) it is left out and the other items' weights are
scaled up to 100 (weighted = score × weight ÷ the scored items' weights), so
a month without callers neither rewards nor punishes; a store may count it
as 0 instead (``ZERO``). With no scored item at all the total is None and
there is no performance pay.

Pay: performance pay = monthly performance base × total ÷ 100 (4000 ×
106.5 ÷ 100 = 4260.00). There is no separate cap: every item is capped, so
the total and the pay are too (at most base × cap ÷ 100 = 6000.00 with the
defaults). The quarterly base is shown, not computed: the seed does not say
how a quarter is scored.

Commission (seed 000, 小组销量): "小组销量完成率=100%提成50元/台; 小组销量完成率
100%提成完成率*50元/台; 提成前提是当月小组车型大类完成率=90%,否则按车型重要程度
给予100-300元不等扣发". The comparison signs were lost in the seed's text; read
as ≥ 100 %, < 100 % and ≥ 90 %:
1. Completion is the team's (a supervisor's card; an agent's card uses the
   agent's team too: the rule is a team rule): deals ÷ target units of the
   month, compared exactly (deals × 100 ≥ 100 × units), never on a rounded
   percentage. Without a target there is no completion and no commission.
2. At or above 100 %: per-unit commission × the units sold (the team's for
   a supervisor, the agent's own on an agent's card). Below 100 %:
   completion × per-unit × units (``commission_prorated``; unticked: none).
3. Prerequisite: every model category with a target must reach the required
   completion (90 %). For each that does not, the category's deduction
   (``category_deductions``, else ``default_category_deduction``) is withheld.
   A category with deals but no target is not checked. The net commission
   (gross − deductions) can be negative: a deduction is withheld from the
   month's pay, not only from the commission (扣发).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dcc import audit
from dcc.models import Store, User
from dcc.policy import require
from dcc.roles import Role
from kpi import metrics
from kpi.metrics import KPIS, PERCENT, Metric, Period, Scope
from kpi.models import ScorecardItem, ScorecardRole, ScorecardSettings, UnscoredItems
from telephony.reviews import average_review_percent

HUNDRED = Decimal(100)
_CENT = Decimal("0.01")

# Figures a scorecard may score beyond the KPI table: the mean call-review
# score (telephony.reviews), a percentage.
REVIEW_SCORE = "review_score"
EXTRA_METRICS = {REVIEW_SCORE: gettext_lazy("Call review score")}


def metric_choices() -> list[tuple[str, str]]:
    return [(name, kpi.label) for name, kpi in KPIS.items()] + list(EXTRA_METRICS.items())


def metric_unit(name: str) -> str:
    return PERCENT if name in EXTRA_METRICS else KPIS[name].unit


def metric_label(name: str) -> str:
    return str(EXTRA_METRICS[name]) if name in EXTRA_METRICS else str(KPIS[name].label)


# Seed 000's supervisor card (网销主管岗位管理绩效考核表), as far as its text
# survives (the table came through without its grid):
# metric, weight, target. Readable: meetings 20 % at 100 %; card creation
# 90 %; return to showroom 10 % at 23 %; row 4 "22 %" (its name is lost:
# read as the invitation-to-store rate, the DCC's KPI B of seed 001 that the
# supervisor's duties name, "提高客户邀约到店率"); test drive (no target
# survives: 50 % is ours); 30-day conversion 13 %; sales completion (100 %,
# the commission's threshold). Only two weights survive (20 %, 10 %): the
# five rate rows get 10 % each (the one readable rate weight) and sales the
# remaining 30 %.
DEFAULT_SUPERVISOR_CARD = (
    ("meetings_on_time", Decimal(20), Decimal(100)),
    ("card_creation_rate", Decimal(10), Decimal(90)),
    ("return_visit_rate", Decimal(10), Decimal(23)),
    ("invite_to_store_rate", Decimal(10), Decimal(22)),
    ("test_drive_rate", Decimal(10), Decimal(50)),
    ("conversion_30d", Decimal(10), Decimal(13)),
    ("sales_completion", Decimal(30), Decimal(100)),
)


def _round(value: Decimal) -> Decimal:
    return value.quantize(_CENT, ROUND_HALF_UP)


# ---------------------------------------------------------------- the rule


def deviation(actual: Decimal, target: Decimal, *, unit: str = PERCENT) -> Decimal:
    """How many "1 %" the actual is above (positive) or below the target:
    percentage points for a rate, percent of the target otherwise."""
    actual, target = Decimal(actual), Decimal(target)
    if unit == PERCENT:
        return actual - target
    if target <= 0:
        raise ValueError("a count target is above 0")
    return (actual - target) * HUNDRED / target


def item_score(
    actual: Decimal | int | None,
    target: Decimal | int,
    settings: ScorecardSettings,
    *,
    unit: str = PERCENT,
) -> Decimal | None:
    """100 at the target, ``slope_above`` per 1 % above, ``slope_below``
    per 1 % below, linear in between, within [floor, cap_max]; two
    decimals. None without an actual."""
    if actual is None:
        return None
    delta = deviation(Decimal(actual), Decimal(target), unit=unit)
    slope = settings.slope_above if delta >= 0 else settings.slope_below
    raw = HUNDRED + Decimal(slope) * delta
    raw = min(max(raw, Decimal(settings.floor)), Decimal(settings.cap_max))
    return _round(raw)


def performance_pay(total: Decimal | None, settings: ScorecardSettings) -> Decimal | None:
    """Monthly performance base × total ÷ 100, two decimals (None without a total)."""
    if total is None:
        return None
    return _round(Decimal(settings.monthly_performance_base) * Decimal(total) / HUNDRED)


# ---------------------------------------------------------------- the card


@dataclass
class ItemResult:
    item: ScorecardItem
    label: str
    unit: str
    metric: Metric | None  # None for the review score (a mean, not a quotient)
    actual: Decimal | int | None
    score: Decimal | None = None
    weighted: Decimal | None = None

    @property
    def name(self) -> str:
        return self.item.metric


@dataclass
class CategoryCheck:
    category: str
    sold: int
    planned: int
    completion: Decimal | None
    met: bool
    deduction: Decimal


@dataclass
class Commission:
    units: int
    sold: int  # the basis scope's (team's) deals
    planned: int  # the basis scope's target units
    completion: Decimal | None
    rate: Decimal  # the per-unit amount paid (prorated below 100 %)
    gross: Decimal
    categories: list[CategoryCheck] = field(default_factory=list)
    deductions: Decimal = Decimal("0.00")

    @property
    def net(self) -> Decimal:
        return self.gross - self.deductions

    @property
    def prerequisite_met(self) -> bool:
        return all(check.met for check in self.categories)


@dataclass
class Card:
    scope: Scope
    period: Period
    role: str
    settings: ScorecardSettings
    items: list[ItemResult]
    total: Decimal | None
    pay: Decimal | None
    commission: Commission

    @property
    def weights(self) -> Decimal:
        return sum((r.item.weight for r in self.items), Decimal(0))

    @property
    def month_pay(self) -> Decimal:
        """Base pay + performance pay + net commission."""
        return _round(
            Decimal(self.settings.base_pay) + (self.pay or Decimal(0)) + self.commission.net
        )


def weigh(results: list[ItemResult], settings: ScorecardSettings) -> Decimal | None:
    """Fill each result's weighted score; the total (see the module doc)."""
    scored = [r for r in results if r.score is not None]
    if settings.unscored_items == UnscoredItems.ZERO:
        for r in results:
            if r.score is None:
                r.weighted = Decimal("0.00")
        base = HUNDRED
        scored = results
    else:
        base = sum((r.item.weight for r in scored), Decimal(0))
    if not scored or not base:
        return None
    for r in scored:
        r.weighted = _round((r.score or Decimal(0)) * Decimal(r.item.weight) / base)
    return sum((r.weighted for r in scored), Decimal(0))


def card_scope(scope: Scope) -> tuple[str, Scope, Scope]:
    """(card role, the scope the items are computed on, the commission's
    basis scope) for a team (its supervisor's card) or a member: a
    supervisor's card is scored on their team, anyone else's on themself.
    ValueError for a store or the group (a card is a person's)."""
    if scope.kind == "team":
        return ScorecardRole.SUPERVISOR, scope, scope
    if scope.kind != "agent":
        raise ValueError("a scorecard is a team's or a member's")
    member = User.objects.only("role", "team_id").get(pk=scope.id)
    team = Scope("team", member.team_id) if member.team_id else scope
    if member.role == Role.SUPERVISOR:
        return ScorecardRole.SUPERVISOR, team, team
    return ScorecardRole.AGENT, scope, team


def scorecard(
    scope: Scope,
    period: Period,
    *,
    store: Store | None = None,
    figures: dict[str, Metric] | None = None,
    by_category: dict[str, Metric] | None = None,
) -> Card:
    """The card of a team (its supervisor's) or a member for the period:
    each active item's actual (``kpi.metrics.compute``), target, score and
    weighted score; the total, the performance pay and the commission.
    About twenty queries whatever the data. ValueError for a store, the
    group, or someone without a store.

    ``figures``: the KPIs of the scope the card is scored on (its team for
    a supervisor's card), when the caller has them already (the monthly
    export computes every team's in a few grouped queries); ``by_category``
    likewise, the commission basis's ``sales_completion_by_category``."""
    role, figures_scope, basis = card_scope(scope)
    store = store or figures_scope.stores().first()
    if store is None:
        raise ValueError("a scorecard belongs to a store")
    settings = settings_for(store)
    items = list(
        ScorecardItem.objects.filter(store=store, role=role, active=True).order_by("order", "pk")
    )
    if figures is None:
        figures = metrics.compute(figures_scope, period)
    results = []
    for item in items:
        unit = metric_unit(item.metric)
        if item.metric == REVIEW_SCORE:
            metric, actual = None, _review_score(figures_scope, period)
        else:
            metric = figures.get(item.metric)
            actual = metric.value if metric else None
        results.append(
            ItemResult(
                item=item,
                label=item.label or metric_label(item.metric),
                unit=unit,
                metric=metric,
                actual=actual,
                score=item_score(actual, item.target, settings, unit=unit),
            )
        )
    total = weigh(results, settings)
    units = figures["deals"].value if figures_scope != basis else None
    return Card(
        scope=scope,
        period=period,
        role=role,
        settings=settings,
        items=results,
        total=total,
        pay=performance_pay(total, settings),
        commission=commission(basis, period, settings, units=units, by_category=by_category),
    )


def _review_score(scope: Scope, period: Period) -> Decimal | None:
    where = {"agent": "agent_ids", "team": "team_id", "store": "store_id"}[scope.kind]
    value = [scope.id] if scope.kind == "agent" else scope.id
    return average_review_percent(since=period.start_at, until=period.end_at, **{where: value})


# ---------------------------------------------------------------- commission


def commission(
    scope: Scope,
    period: Period,
    settings: ScorecardSettings,
    *,
    units: int | None = None,
    by_category: dict[str, Metric] | None = None,
) -> Commission:
    """The commission rule on ``scope`` (a team, or a store) for the month:
    ``units`` are the units paid for (default: the scope's own deals). See
    the module doc; two queries, none when ``by_category`` (the scope's
    ``sales_completion_by_category``) is given."""
    if by_category is None:
        by_category = metrics.sales_completion_by_category(scope, period)
    sold = sum(m.numerator for m in by_category.values())
    planned = sum(m.denominator or 0 for m in by_category.values())
    units = sold if units is None else units
    per_unit = Decimal(settings.commission_per_unit)
    if not planned:
        completion, rate = None, Decimal(0)
    elif sold >= planned:  # exactly: deals × 100 ≥ 100 × units
        completion, rate = metrics.percent(sold, planned), per_unit
    else:
        completion = metrics.percent(sold, planned)
        rate = per_unit * sold / planned if settings.commission_prorated else Decimal(0)
    checks = []
    required = Decimal(settings.category_prerequisite)
    deductions = settings.category_deductions or {}
    for category, metric in by_category.items():
        if not metric.denominator:
            continue  # deals without a target: nothing to reach
        met = Decimal(metric.numerator) * HUNDRED >= required * metric.denominator
        amount = Decimal(0)
        if not met:
            amount = Decimal(str(deductions.get(category, settings.default_category_deduction)))
        checks.append(
            CategoryCheck(
                category=category,
                sold=metric.numerator,
                planned=metric.denominator,
                completion=metric.value,
                met=met,
                deduction=_round(amount),
            )
        )
    return Commission(
        units=units,
        sold=sold,
        planned=planned,
        completion=completion,
        rate=_round(rate),
        gross=_round(rate * units),
        categories=checks,
        deductions=sum((c.deduction for c in checks), Decimal("0.00")),
    )


# ---------------------------------------------------------------- settings and the default card


def settings_for(store: Store) -> ScorecardSettings:
    """The store's scorecard settings. On first use (no settings row yet)
    the settings and seed 000's supervisor card are created together."""
    found = ScorecardSettings.objects.filter(store=store).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            settings = ScorecardSettings.objects.create(store=store)
            ScorecardItem.objects.bulk_create(
                ScorecardItem(
                    store=store,
                    role=ScorecardRole.SUPERVISOR,
                    metric=name,
                    weight=weight,
                    target=target,
                    order=index,
                )
                for index, (name, weight, target) in enumerate(DEFAULT_SUPERVISOR_CARD, 1)
            )
    except IntegrityError:
        # Another request set the store up first: theirs stands.
        return ScorecardSettings.objects.get(store=store)
    return settings


def _require_store(actor, store: Store) -> None:
    require(actor, "kpi.scorecard.manage")
    if not Store.objects.visible_to(actor).filter(pk=store.pk).exists():
        raise PermissionDenied("store outside the actor's scope")


SETTINGS_FIELDS = (
    "slope_above",
    "slope_below",
    "cap_max",
    "floor",
    "unscored_items",
    "base_pay",
    "monthly_performance_base",
    "quarterly_performance_base",
    "commission_per_unit",
    "commission_prorated",
    "category_prerequisite",
    "category_deductions",
    "default_category_deduction",
)


@transaction.atomic
def scorecard_settings_update(*, actor, store: Store, **values) -> ScorecardSettings:
    """A manager sets the store's scoring rule and pay bases."""
    _require_store(actor, store)
    unknown = set(values) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValidationError({name: _("Unknown setting.") for name in unknown})
    settings_for(store)
    settings = ScorecardSettings.objects.select_for_update().get(store=store)
    changed = audit.assign(settings, values)
    settings.full_clean()
    if changed:
        audit.attribute(settings, actor=actor)
        settings.save()
        audit.record("kpi.scorecard.settings_updated", actor=actor, target=store, **changed)
    return settings


ITEM_FIELDS = ("metric", "label", "weight", "target", "order", "active")


@transaction.atomic
def scorecard_items_save(
    *, actor, store: Store, role: str, items: Iterable[dict]
) -> list[ScorecardItem]:
    """Replace a store's card for ``role`` by ``items`` (dicts of
    ``ITEM_FIELDS``, with ``id`` for an existing item). The active items'
    weights sum to exactly 100; each figure appears once; a count target is
    above 0. Errors: ``ValidationError`` keyed ``items`` for the card, or
    ``row-<index>-<field>`` for one row's field."""
    _require_store(actor, store)
    if role not in ScorecardRole.values:
        raise ValidationError({"role": _("Unknown card.")})
    settings_for(store)
    items = [dict(row) for row in items]
    known = dict(metric_choices())
    row_errors: dict[str, list[str]] = {}

    def error(index, name, message):
        row_errors.setdefault(f"row-{index}-{name}", []).append(message)

    seen = {}
    for index, row in enumerate(items):
        name = row.get("metric")
        if name not in known:
            error(index, "metric", _("Unknown figure."))
            continue
        if name in seen:
            error(index, "metric", _("This figure is already on the card."))
        seen[name] = index
        weight, target = row.get("weight"), row.get("target")
        if weight is None or not Decimal(0) < Decimal(weight) <= HUNDRED:
            error(index, "weight", _("A weight is above 0 and at most 100."))
        if target is None or Decimal(target) < 0:
            error(index, "target", _("A target is zero or more."))
        elif metric_unit(name) != PERCENT and Decimal(target) <= 0:
            error(index, "target", _("A count target is above 0: “1%” is a percent of it."))
    if row_errors:
        raise ValidationError(row_errors)
    active = [row for row in items if row.get("active", True)]
    total = sum((Decimal(row["weight"]) for row in active), Decimal(0))
    if active and total != HUNDRED:
        raise ValidationError(
            {
                "items": _("The active items' weights add up to %(total)s%%, not 100%%.")
                % {"total": f"{total.normalize():f}"}
            }
        )
    existing = {
        item.pk: item
        for item in ScorecardItem.objects.select_for_update()
        .filter(store=store, role=role)
        .order_by("pk")
    }
    kept = {row["id"] for row in items if row.get("id") in existing}
    for pk in set(existing) - kept:
        audit.attribute(existing[pk], actor=actor)
        existing[pk].delete()
    saved = []
    # Two passes: a figure moving between rows must not collide with the
    # unique constraint on (store, role, metric) half-way.
    # (A plain UPDATE: the placeholder is no state worth a history row.)
    for pk in kept:
        ScorecardItem.objects.filter(pk=pk).update(metric=f"~{pk}")
    for row in items:
        item = existing.get(row.get("id")) or ScorecardItem(store=store, role=role)
        for name in ITEM_FIELDS:
            if name in row:
                setattr(item, name, row[name])
        item.label = (item.label or "").strip()
        audit.attribute(item, actor=actor)
        item.save()
        saved.append(item)
    audit.record(
        "kpi.scorecard.items_saved",
        actor=actor,
        target=store,
        role=role,
        items=[[i.metric, str(i.weight), str(i.target), i.active] for i in saved],
    )
    return saved
