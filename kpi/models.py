"""KPI data that people enter (DESIGN §3): the supervisor's monthly targets
per member and model category (任务分配表), the morning/evening meeting log
(晨会夕会) and each store's KPI settings.

The figures themselves are computed, never stored: ``kpi.metrics``. Writes go
through ``kpi.services``.
"""

from __future__ import annotations

from datetime import time
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, TruncTime
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from dcc.policy import Level, ScopedQuerySet, ScopePaths

# Defaults of a store without its own settings row (documented in the
# settings' help texts): a morning meeting starts by 08:30, an evening
# meeting by 18:00, and the DCC works Monday to Saturday.
DEFAULT_MORNING_LATEST = time(8, 30)
DEFAULT_EVENING_LATEST = time(18, 0)
DEFAULT_WORKING_WEEKDAYS = "123456"  # ISO weekdays: 1 = Monday … 7 = Sunday


class KpiSettingsQuerySet(ScopedQuerySet):
    """A store's settings: a manager (and an administrator) sees the store's;
    a supervisor too (they read the on-time rule), agents none."""

    scope_paths = ScopePaths(store="store")

    def scope_q(self, user, level):
        if level is Level.TEAM:
            level = Level.STORE
        return super().scope_q(user, level)


class KpiSettings(models.Model):
    """A store's KPI settings: settings, not constants (DESIGN §3). The
    supervisor scorecard's weights, targets and slopes will join them."""

    store = models.OneToOneField(
        "dcc.Store", on_delete=models.CASCADE, related_name="kpi_settings", verbose_name=_("store")
    )
    morning_meeting_latest = models.TimeField(
        _("morning meeting starts by"),
        default=DEFAULT_MORNING_LATEST,
        help_text=_("A morning meeting held later than this is not on time (default 08:30)."),
    )
    evening_meeting_latest = models.TimeField(
        _("evening meeting starts by"),
        default=DEFAULT_EVENING_LATEST,
        help_text=_("An evening meeting held later than this is not on time (default 18:00)."),
    )
    working_weekdays = models.CharField(
        _("working days"),
        max_length=7,
        default=DEFAULT_WORKING_WEEKDAYS,
        validators=[
            RegexValidator(
                r"^(?!.*(.).*\1)[1-7]{1,7}$",
                _("Digits 1 (Monday) to 7 (Sunday), each at most once, e.g. 123456."),
            )
        ],
        help_text=_(
            "The days of the week the DCC works, as ISO digits: 1 = Monday … 7 = Sunday "
            "(default 123456, Monday to Saturday). The meetings KPI counts these days."
        ),
    )

    # Seed 001: "接听来电50-60例/人天; 呼出电话70-80例/人天" — the lower ends
    # are the defaults; each is a per-agent daily target (0: none).
    daily_inbound_calls = models.PositiveSmallIntegerField(
        _("daily target: inbound calls per agent"), default=50
    )
    daily_outbound_calls = models.PositiveSmallIntegerField(
        _("daily target: outbound calls per agent"), default=70
    )
    daily_invitations = models.PositiveSmallIntegerField(
        _("daily target: store visits booked per agent"), default=3
    )

    history = HistoricalRecords()
    objects = KpiSettingsQuerySet.as_manager()

    class Meta:
        verbose_name = _("KPI settings")
        verbose_name_plural = _("KPI settings")

    def __str__(self):
        return str(self.store)

    @property
    def weekdays(self) -> frozenset[int]:
        return frozenset(int(d) for d in self.working_weekdays)


class TargetQuerySet(ScopedQuerySet):
    scope_paths = ScopePaths(store="store", team="member__team", own="member")


class Target(models.Model):
    """任务分配表: the units a member is to sell in a month, per vehicle
    model category (``VehicleModel.category``). Sales completion divides
    deals by these; the commission rule checks each category (DESIGN §3)."""

    store = models.ForeignKey(
        "dcc.Store", on_delete=models.PROTECT, related_name="+", verbose_name=_("store")
    )
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="kpi_targets",
        verbose_name=_("member"),
    )
    # Always the first day of the month (``kpi.services`` and ``clean``).
    month = models.DateField(_("month"))
    category = models.CharField(_("model category"), max_length=50)
    units = models.PositiveIntegerField(_("units"))
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("set by"),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords()
    objects = TargetQuerySet.as_manager()

    class Meta:
        ordering = ["month", "member", "category"]
        verbose_name = _("target")
        verbose_name_plural = _("targets")
        constraints = [
            models.UniqueConstraint(
                fields=["member", "month", "category"], name="target_once_per_member_month"
            ),
        ]
        indexes = [
            # Sales completion: a store's (or team's) targets of a month.
            models.Index(fields=["store", "month"], name="target_store_month_idx"),
        ]

    def __str__(self):
        return f"{self.member} {self.month:%Y-%m} {self.category}: {self.units}"

    def clean(self):
        if self.month and self.month.day != 1:
            raise ValidationError({"month": _("A target is set for a whole month.")})


class MeetingKind(models.TextChoices):
    MORNING = "morning", _("Morning meeting")
    EVENING = "evening", _("Evening meeting")


class MeetingQuerySet(ScopedQuerySet):
    # The team's meeting log: its members read it, the supervisor keeps it.
    scope_paths = ScopePaths(store="store", team="team")

    def own_q(self, user):
        return Q(team_id=user.team_id) if user.team_id else Q(pk__in=[])

    def with_on_time(self):
        """``on_time``: held (local time) no later than the store's latest
        start for its kind (``KpiSettings``, else the defaults)."""
        local = TruncTime("held_at")
        morning = Coalesce(
            F("store__kpi_settings__morning_meeting_latest"),
            Value(DEFAULT_MORNING_LATEST, output_field=models.TimeField()),
        )
        evening = Coalesce(
            F("store__kpi_settings__evening_meeting_latest"),
            Value(DEFAULT_EVENING_LATEST, output_field=models.TimeField()),
        )
        return self.annotate(local_time=local).annotate(
            on_time=models.Case(
                models.When(Q(kind=MeetingKind.MORNING, local_time__lte=morning), then=True),
                models.When(Q(kind=MeetingKind.EVENING, local_time__lte=evening), then=True),
                default=False,
                output_field=models.BooleanField(),
            ),
        )


class Meeting(models.Model):
    """One morning or evening meeting (晨会/夕会) of a team: when, who came,
    what was said. The meetings KPI counts working days with both held on
    time."""

    store = models.ForeignKey(
        "dcc.Store", on_delete=models.PROTECT, related_name="+", verbose_name=_("store")
    )
    team = models.ForeignKey(
        "dcc.Team", on_delete=models.PROTECT, related_name="meetings", verbose_name=_("team")
    )
    kind = models.CharField(_("meeting"), max_length=10, choices=MeetingKind.choices)
    held_at = models.DateTimeField(_("held at"))
    attendees = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="kpi_meetings",
        blank=True,
        verbose_name=_("attendees"),
    )
    minutes = models.TextField(_("minutes"), blank=True, default="")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    objects = MeetingQuerySet.as_manager()

    class Meta:
        ordering = ["-held_at", "-id"]
        verbose_name = _("meeting")
        verbose_name_plural = _("meetings")
        indexes = [
            # The meetings KPI and the log: a team's (or store's) meetings by time.
            models.Index(fields=["team", "held_at"], name="meeting_team_time_idx"),
            models.Index(fields=["store", "held_at"], name="meeting_store_time_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.held_at:%Y-%m-%d %H:%M}"


# ---------------------------------------------------------------- scorecards


class ScorecardRole(models.TextChoices):
    """Whose card: the supervisor's (scored on the team's figures, seed 000)
    or an agent's (scored on their own)."""

    SUPERVISOR = "supervisor", _("Supervisor")
    AGENT = "agent", _("Agent")


class UnscoredItems(models.TextChoices):
    """What an item without an actual (nothing to divide by) does to the total."""

    EXCLUDE = "exclude", _("Leave it out and weigh the other items up to 100%")
    ZERO = "zero", _("Count it as a score of 0")


class ScorecardQuerySet(ScopedQuerySet):
    """A store's scorecard and its settings: its manager (and an
    administrator) sees them; a supervisor and the agents read their store's
    (they are scored on them)."""

    scope_paths = ScopePaths(store="store")

    def scope_q(self, user, level):
        if level in (Level.TEAM, Level.OWN):
            level = Level.STORE
        return super().scope_q(user, level)


class ScorecardSettings(models.Model):
    """A store's scoring rule and pay bases (DESIGN §3, seeds 000 and 003).
    Defaults are seed 000's supervisor pay (800 / 4000 / 1000, 50 yuan per
    unit, 90 % per model category) and seed 003's rule (+1.3 / −0.3 per 1 %).
    How "1 %" is read: ``kpi.scorecard``."""

    store = models.OneToOneField(
        "dcc.Store",
        on_delete=models.CASCADE,
        related_name="scorecard_settings",
        verbose_name=_("store"),
    )
    slope_above = models.DecimalField(
        _("points per 1% above target"),
        max_digits=6,
        decimal_places=2,
        default=Decimal("1.3"),
        validators=[MinValueValidator(Decimal(0))],
        help_text=_("Seed rule: each 1% above the target adds 1.3 points."),
    )
    slope_below = models.DecimalField(
        _("points per 1% below target"),
        max_digits=6,
        decimal_places=2,
        default=Decimal("0.3"),
        validators=[MinValueValidator(Decimal(0))],
        help_text=_("Seed rule: each 1% below the target takes off 0.3 points."),
    )
    cap_max = models.DecimalField(
        _("highest item score"),
        max_digits=6,
        decimal_places=2,
        default=Decimal(150),
        help_text=_("No item scores more than this (at least 100)."),
    )
    floor = models.DecimalField(
        _("lowest item score"),
        max_digits=6,
        decimal_places=2,
        default=Decimal(0),
        help_text=_("No item scores less than this (at most 100)."),
    )
    unscored_items = models.CharField(
        _("item without an actual"),
        max_length=10,
        choices=UnscoredItems.choices,
        default=UnscoredItems.EXCLUDE,
        help_text=_("An item whose figure has nothing to divide by (e.g. no visits) has no score."),
    )
    base_pay = models.DecimalField(
        _("base pay"), max_digits=10, decimal_places=2, default=Decimal(800)
    )
    monthly_performance_base = models.DecimalField(
        _("monthly performance base"),
        max_digits=10,
        decimal_places=2,
        default=Decimal(4000),
        help_text=_("Monthly performance pay = this × weighted total ÷ 100."),
    )
    quarterly_performance_base = models.DecimalField(
        _("quarterly performance base"),
        max_digits=10,
        decimal_places=2,
        default=Decimal(1000),
        help_text=_("Shown for reference: the seed does not say how the quarter is scored."),
    )
    commission_per_unit = models.DecimalField(
        _("commission per unit"),
        max_digits=10,
        decimal_places=2,
        default=Decimal(50),
        help_text=_("Paid per unit sold when the team reaches its whole sales target."),
    )
    commission_prorated = models.BooleanField(
        _("pro-rated commission below 100%"),
        default=True,
        help_text=_(
            "Below 100% team completion, pay completion × commission per unit "
            "(seed 000); unticked: no commission below 100%."
        ),
    )
    category_prerequisite = models.DecimalField(
        _("completion required per model category (%)"),
        max_digits=6,
        decimal_places=2,
        default=Decimal(90),
        validators=[MinValueValidator(Decimal(0))],
        help_text=_("Each model category with a target must reach this completion."),
    )
    category_deductions = models.JSONField(
        _("deduction per missed category"),
        default=dict,
        blank=True,
        help_text=_("Yuan withheld for each model category below the required completion."),
    )
    default_category_deduction = models.DecimalField(
        _("deduction for other categories"),
        max_digits=10,
        decimal_places=2,
        default=Decimal(100),
        validators=[MinValueValidator(Decimal(0))],
        help_text=_("For a missed category not listed above (seed: 100 to 300 yuan)."),
    )

    history = HistoricalRecords()
    objects = ScorecardQuerySet.as_manager()

    class Meta:
        verbose_name = _("scorecard settings")
        verbose_name_plural = _("scorecard settings")

    def __str__(self):
        return str(self.store)

    def clean(self):
        errors = {}
        if self.cap_max is not None and self.cap_max < 100:
            errors["cap_max"] = _("The highest score is at least 100 (the score at target).")
        if self.floor is not None and self.floor > 100:
            errors["floor"] = _("The lowest score is at most 100 (the score at target).")
        deductions = self.category_deductions
        if not isinstance(deductions, dict) or not all(
            isinstance(k, str) and k and _is_amount(v) for k, v in deductions.items()
        ):
            errors["category_deductions"] = _(
                "Each model category needs an amount of zero or more yuan."
            )
        if errors:
            raise ValidationError(errors)


def _is_amount(value) -> bool:
    try:
        return not isinstance(value, bool) and Decimal(str(value)) >= 0
    except (ArithmeticError, ValueError):
        return False


class ScorecardItem(models.Model):
    """One line of a store's scorecard: a figure, its weight (the card's
    active weights sum to 100) and its target, in the figure's unit (a
    percentage for rates, a number for counts)."""

    store = models.ForeignKey(
        "dcc.Store",
        on_delete=models.CASCADE,
        related_name="scorecard_items",
        verbose_name=_("store"),
    )
    role = models.CharField(
        _("card"),
        max_length=20,
        choices=ScorecardRole.choices,
        default=ScorecardRole.SUPERVISOR,
    )
    # One of kpi.metrics.KPIS or kpi.scorecard.EXTRA_METRICS (validated by
    # the service: the list lives in code, not in a migration).
    metric = models.CharField(_("figure"), max_length=50)
    label = models.CharField(_("label"), max_length=100, blank=True, default="")
    weight = models.DecimalField(
        _("weight (%)"),
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal(100))],
    )
    target = models.DecimalField(
        _("target"),
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(Decimal(0))],
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    active = models.BooleanField(_("active"), default=True)

    history = HistoricalRecords()
    objects = ScorecardQuerySet.as_manager()

    class Meta:
        ordering = ["store", "role", "order", "pk"]
        verbose_name = _("scorecard item")
        verbose_name_plural = _("scorecard items")
        constraints = [
            models.UniqueConstraint(
                fields=["store", "role", "metric"], name="scorecard_item_once_per_card"
            ),
        ]

    def __str__(self):
        return f"{self.store} {self.role} {self.metric} {self.weight}%"


class MonthlyResult(models.Model):
    """The figures of one closed month for one scope, stored so that a page
    reads them instead of computing them again (``kpi.monthly``). ``counts``
    are the named counts the figures are made of (``metric_set``: which
    counts, at ``version``); ``seq`` is the month's invalidation number when
    they were computed (``MonthlyInvalidation``): a row whose ``seq`` is not
    the month's current one is stale and never read."""

    month = models.DateField(_("month"))
    scope_kind = models.CharField(_("scope kind"), max_length=8)
    # 0 for the group (a group scope has no id).
    scope_id = models.PositiveIntegerField(_("scope id"))
    metric_set = models.CharField(_("metric set"), max_length=16)
    version = models.PositiveSmallIntegerField(_("version"))
    seq = models.PositiveIntegerField(_("invalidation number"), default=0)
    counts = models.JSONField(_("counts"))
    computed_at = models.DateTimeField(_("computed at"), auto_now=True)

    class Meta:
        verbose_name = _("stored monthly result")
        verbose_name_plural = _("stored monthly results")
        constraints = [
            models.UniqueConstraint(
                fields=["month", "scope_kind", "scope_id", "metric_set", "version"],
                name="monthly_result_once",
            ),
        ]

    def __str__(self):
        return f"{self.month:%Y-%m} {self.scope_kind}:{self.scope_id} {self.metric_set}"


class MonthlyInvalidation(models.Model):
    """How many times late data changed a month (``kpi.receivers``): each
    change adds one to ``seq``; stored results of an earlier ``seq`` are
    stale."""

    month = models.DateField(_("month"), primary_key=True)
    seq = models.PositiveIntegerField(_("invalidation number"), default=0)
    changed_at = models.DateTimeField(_("changed at"), auto_now=True)

    class Meta:
        verbose_name = _("monthly result invalidation")
        verbose_name_plural = _("monthly result invalidations")

    def __str__(self):
        return f"{self.month:%Y-%m} #{self.seq}"
