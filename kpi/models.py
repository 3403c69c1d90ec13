"""KPI data that people enter (DESIGN §3): the supervisor's monthly targets
per member and model category (任务分配表), the morning/evening meeting log
(晨会夕会) and each store's KPI settings.

The figures themselves are computed, never stored: ``kpi.metrics``. Writes go
through ``kpi.services``.
"""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
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
