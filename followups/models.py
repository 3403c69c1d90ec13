"""Follow-ups, appointments and visits, SLA breaches and the SMS outbox
(DESIGN §2 "Intent level and follow-up cadence", "Rules with clocks").

Rules live in ``followups.services``; Celery tasks in ``followups.tasks``
take ids and call those services.
"""

from collections import defaultdict
from datetime import time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from dcc.policy import Level, ScopedQuerySet, ScopePaths
from dcc.validators import no_control_characters


class FollowupPolicyQuerySet(models.QuerySet):
    """The one reader of a store's follow-up settings: every app asks here
    (the queue's retry interval, the SLA sweep's grace, telephony's
    verification window, the SMS signature), never a query of its own."""

    def for_store(self, store) -> "FollowupPolicy":
        """The store's saved settings, or the defaults (unsaved) for a store
        that never changed them: reading never writes."""
        store_id = getattr(store, "pk", store)
        return self.filter(store_id=store_id).first() or self.model(store_id=store_id)

    def value_by_store(self, name: str) -> dict:
        """``{store_id: value}`` of one setting for every store in one query;
        a store without a row reads the default."""
        default = self.model._meta.get_field(name).default
        return defaultdict(lambda: default, self.values_list("store_id", name))


class HandoverMode(models.TextChoices):
    """Seed 001's two ways to staff a DCC. Mode one: whoever works a lead
    keeps it to the end. Mode two: outbound callers (``Role.CALLER``) hand a
    customer to a DCC agent at the first invited store visit: the booking
    names the receiving agent, who becomes the owner (``followups.services
    .appointment_book``)."""

    KEEP = "keep", _("Mode one: the caller keeps the lead")
    HAND_OVER = "hand_over", _("Mode two: the caller hands over at the first store visit")


class FirstContactRule(models.TextChoices):
    """What meets the first-contact rule (followups.sla.rule_for)."""

    AUTO = "auto", _("A connected call once the store imports its call log, else any logged call")
    LOGGED = "logged", _("Any logged call")
    CONNECTED = "connected", _("A connected call in the call log")


def parse_day_list(value: str) -> list[int]:
    """ "3, 30" → [3, 30] (sorted, unique); ValueError on anything else."""
    parts = [part.strip() for part in (value or "").replace("，", ",").split(",")]
    days = sorted({int(part) for part in parts if part})
    if any(day < 1 or day > 3650 for day in days):
        raise ValueError(value)
    return days


def validate_day_list(value: str) -> None:
    try:
        parse_day_list(value)
    except ValueError as exc:
        raise ValidationError(
            _("Enter whole numbers of days between 1 and 3650, separated by commas.")
        ) from exc


def parse_time_list(value: str) -> list[time]:
    """ "10:00,15:00" -> the times, sorted."""
    times = []
    for part in (value or "").replace("，", ",").split(","):
        part = part.strip()
        if part:
            hour, _sep, minute = part.partition(":")
            times.append(time(int(hour), int(minute or 0)))
    return sorted(times)


def validate_time_list(value: str) -> None:
    try:
        parse_time_list(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(_("Write times of day like 10:00,15:00.")) from exc


class FollowupPolicy(models.Model):
    """A store's follow-up settings: settings, not constants (DESIGN §2)."""

    store = models.OneToOneField(
        "dcc.Store",
        on_delete=models.CASCADE,
        related_name="followup_policy",
        verbose_name=_("store"),
    )
    cadence_h_days = models.PositiveSmallIntegerField(
        _("level H: follow up every (days)"), default=1, validators=[MinValueValidator(1)]
    )
    cadence_a_days = models.PositiveSmallIntegerField(
        _("level A: follow up every (days)"), default=3, validators=[MinValueValidator(1)]
    )
    cadence_b_days = models.PositiveSmallIntegerField(
        _("level B: follow up every (days)"), default=7, validators=[MinValueValidator(1)]
    )
    cadence_c_days = models.PositiveSmallIntegerField(
        _("level C: follow up every (days)"), default=14, validators=[MinValueValidator(1)]
    )
    # An unanswered call comes back to the queue this many hours later, not
    # after the level's cadence: the customer has not been spoken to yet.
    retry_no_answer_hours = models.PositiveSmallIntegerField(
        _("retry an unanswered call after (hours)"), default=2, validators=[MaxValueValidator(72)]
    )
    # A lead whose first-contact deadline is this close (or past) comes
    # before overdue follow-ups in the queue.
    first_contact_warning_hours = models.PositiveSmallIntegerField(
        _("first call due soon: within (hours)"),
        default=4,
        validators=[MaxValueValidator(48)],
    )
    # 成交客户定期回访 (seed 000): after-sales calls this many days after delivery.
    aftercare_days = models.CharField(
        _("after-sales calls after delivery (days, comma-separated)"),
        max_length=50,
        default="3,30",
        blank=True,
        validators=[validate_day_list],
    )
    # Unanswered attempts before the first-contact deadline after which the
    # lead goes to the supervisor's queue.
    max_unanswered_attempts = models.PositiveSmallIntegerField(
        _("unanswered attempts before escalation"), default=3, validators=[MinValueValidator(1)]
    )
    # An appointment with neither arrival nor no-show this long after its time
    # is flagged for the manager to confirm.
    appointment_grace_hours = models.PositiveSmallIntegerField(
        _("hours after an appointment before it is flagged"), default=2
    )
    reminder_hour = models.PositiveSmallIntegerField(
        _("hour of the day-before reminder SMS"),
        default=10,
        validators=[MaxValueValidator(23)],
    )
    sms_signature = models.CharField(_("SMS signature"), max_length=30, blank=True, default="")
    # Seed 001: pick up within three rings. Ring time = answer − start.
    answer_within_seconds = models.PositiveSmallIntegerField(
        _("answered in time: within (seconds)"),
        default=15,
        validators=[MinValueValidator(1), MaxValueValidator(120)],
    )
    # A follow-up logged as a call is verified by an answered PBX call with
    # the lead's number on the agent's extension this close to it.
    verify_window_minutes = models.PositiveSmallIntegerField(
        _("verify a logged call against the PBX log within (minutes)"),
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
    )

    handover_mode = models.CharField(
        _("callers and agents"),
        max_length=20,
        choices=HandoverMode.choices,
        default=HandoverMode.KEEP,
    )
    # The first-contact rule (48 hours, 2 days; DESIGN §2): what counts as
    # the first contact. "Connected": an agent-answered call to or from the
    # lead's number with at least first_contact_min_talk_seconds of talk in
    # the store's call log, or a logged follow-up verified by such a call.
    first_contact_rule = models.CharField(
        _("first contact is met by"),
        max_length=10,
        choices=FirstContactRule.choices,
        default=FirstContactRule.AUTO,
    )
    first_contact_min_talk_seconds = models.PositiveSmallIntegerField(
        _("a connected call talks at least (seconds)"),
        default=10,
        validators=[MaxValueValidator(600)],
    )
    # The start of the store's first imported call log (kept by telephony
    # through followups.sla.note_call_log): "auto" means "connected" from then.
    call_log_since = models.DateTimeField(_("call log imported since"), null=True, blank=True)
    # The pool (公海, leads.pool): each rule that sends a lead there is
    # optional (off when unticked or 0); followups.pool sweeps by them.
    pool_on_first_contact = models.BooleanField(
        _("pool a lead when its first-contact deadline passes"), default=False
    )
    pool_after_unanswered = models.PositiveSmallIntegerField(
        _("pool a lead after this many unanswered attempts"),
        default=0,
        help_text=_("0: never."),
    )
    pool_overdue_days = models.PositiveSmallIntegerField(
        _("pool a lead whose follow-up is overdue by more than (days)"),
        default=0,
        help_text=_("0: never."),
    )
    pool_claims_per_day = models.PositiveSmallIntegerField(
        _("pool leads an agent may claim per day"),
        default=10,
        validators=[MinValueValidator(1)],
    )
    pool_claim_restarts_clock = models.BooleanField(
        _("a claimed lead's first-contact clock restarts"),
        default=True,
        help_text=_("The claimer has the transfer window to make the first call."),
    )
    # Distribution (leads.distribution): manufacturer leads nobody has taken
    # by these times of day are flagged to the manager (DOSS checks morning
    # and afternoon).
    assignment_windows = models.CharField(
        _("manufacturer leads assigned by (times, comma-separated)"),
        max_length=50,
        blank=True,
        default="10:00,15:00",
        validators=[validate_time_list],
    )

    history = HistoricalRecords()
    objects = FollowupPolicyQuerySet.as_manager()

    class Meta:
        verbose_name = _("follow-up policy")
        verbose_name_plural = _("follow-up policies")

    def __str__(self):
        return str(self.store)

    def cadence_days(self, level: str) -> int:
        return getattr(self, f"cadence_{level.lower()}_days")

    def next_aftercare(self, delivered_at, *, after):
        """The first after-sales call due after ``after``, or None."""
        points = [delivered_at + timedelta(days=d) for d in parse_day_list(self.aftercare_days)]
        return next((point for point in points if point > after), None)


class Channel(models.TextChoices):
    CALL = "call", _("Phone call")
    SMS = "sms", _("SMS")
    WECHAT = "wechat", _("WeChat")
    VISIT = "visit", _("Store visit")


class Purpose(models.TextChoices):
    """Seed 001: 邀约试驾, 参加活动, 邮寄资料, 其它."""

    TEST_DRIVE = "test_drive", _("Invite to a test drive")
    EVENT = "event", _("Invite to an event")
    MATERIALS = "materials", _("Send materials")
    OTHER = "other", _("Other")


class VisitType(models.TextChoices):
    """What the customer comes to the store for, as the customer's SMS says
    it (issue 13): never the staff's follow-up purpose."""

    VIEWING = "viewing", _("See the car")
    TEST_DRIVE = "test_drive", _("Test drive")
    EVENT = "event", _("Attend an event")
    NEGOTIATION = "negotiation", _("Discuss the purchase")
    DELIVERY = "delivery", _("Take delivery")

    @classmethod
    def for_purpose(cls, purpose: str) -> str:
        """The visit a follow-up's purpose books when none is chosen."""
        return {Purpose.TEST_DRIVE: cls.TEST_DRIVE, Purpose.EVENT: cls.EVENT}.get(
            purpose, cls.VIEWING
        )


class Result(models.TextChoices):
    REACHED = "reached", _("Reached")
    NO_ANSWER = "no_answer", _("No answer")
    INVITED = "invited", _("Invited to the store")
    REFUSED = "refused", _("Refused the invitation")
    DEFEATED = "defeated", _("Defeated")
    INVALID = "invalid", _("Invalid")


class FollowUpQuerySet(ScopedQuerySet):
    scope_paths = ScopePaths(store="store", team="agent__team", own="agent")


class FollowUp(models.Model):
    """One logged contact attempt, answered or not (DESIGN §3)."""

    store = models.ForeignKey(
        "dcc.Store", on_delete=models.PROTECT, related_name="+", verbose_name=_("store")
    )
    lead = models.ForeignKey(
        "leads.Lead", on_delete=models.CASCADE, related_name="followups", verbose_name=_("lead")
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="followups",
        verbose_name=_("agent"),
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    purpose = models.CharField(
        _("purpose"), max_length=20, choices=Purpose.choices, default=Purpose.OTHER
    )
    result = models.CharField(_("result"), max_length=20, choices=Result.choices)
    note = models.TextField(_("note"), blank=True, default="")
    occurred_at = models.DateTimeField(_("time"))
    next_followup_at = models.DateTimeField(_("next follow-up"), null=True, blank=True)
    level_before = models.CharField(
        max_length=1, blank=True, default="", verbose_name=_("level before")
    )
    level_after = models.CharField(
        max_length=1, blank=True, default="", verbose_name=_("level after")
    )
    # The lead's first logged phone follow-up (seed 001: 首次电话跟进).
    is_first_call = models.BooleanField(default=False, verbose_name=_("is first call"))
    # The PBX call that shows this logged call was really made (telephony
    # sets it: telephony.verification); empty for other channels or when the
    # log has no such call.
    verified_call = models.ForeignKey(
        "telephony.Call",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("verified by call"),
        db_index=False,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    objects = FollowUpQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")
        indexes = [
            # A lead's timeline and "first follow-up" lookups.
            models.Index(fields=["lead", "occurred_at"], name="followup_lead_time_idx"),
            # KPI: follow-ups by agent and day; supervisor: logged today.
            models.Index(fields=["agent", "occurred_at"], name="followup_agent_time_idx"),
            models.Index(fields=["store", "occurred_at"], name="followup_store_time_idx"),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} {self.occurred_at:%Y-%m-%d %H:%M}"


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", _("Booked")
    CONFIRMED = "confirmed", _("Confirmed")
    ARRIVED = "arrived", _("Arrived")
    NO_SHOW = "no_show", _("No-show")
    CANCELLED = "cancelled", _("Cancelled")


PENDING_APPOINTMENT = (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED)


class AppointmentQuerySet(ScopedQuerySet):
    scope_paths = ScopePaths(store="store", team="agent__team", own="agent")

    def own_q(self, user):
        # A showroom consultant sees the visits handed to them (DESIGN §1);
        # a DCC agent the visits credited to them (mode two: booked by a caller).
        return super().own_q(user) | Q(receiver=user) | Q(visit_owner=user)

    def pending(self):
        return self.filter(status__in=PENDING_APPOINTMENT)


class Appointment(models.Model):
    """邀约到店: a booked store visit, then its outcome."""

    store = models.ForeignKey(
        "dcc.Store", on_delete=models.PROTECT, related_name="+", verbose_name=_("store")
    )
    lead = models.ForeignKey(
        "leads.Lead", on_delete=models.CASCADE, related_name="appointments", verbose_name=_("lead")
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="booked_appointments",
        verbose_name=_("booked by"),
    )
    receiver = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="received_appointments",
        verbose_name=_("receiving salesperson"),
    )
    # Who owned the lead when the customer came: the visit, test drive and
    # deal side of the KPIs is theirs, the invitation the booker's (``agent``).
    # Mode two: the receiving DCC agent, while the caller who booked keeps
    # the invitation. Set on arrival (``services._record_arrival``).
    visit_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("owner at the visit"),
    )
    scheduled_at = models.DateTimeField(_("scheduled for"))
    purpose = models.CharField(
        _("purpose"), max_length=20, choices=Purpose.choices, default=Purpose.TEST_DRIVE
    )
    visit_type = models.CharField(
        _("visit for"), max_length=20, choices=VisitType.choices, default=VisitType.VIEWING
    )
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=AppointmentStatus.choices,
        default=AppointmentStatus.BOOKED,
    )
    note = models.TextField(_("note"), blank=True, default="")
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    arrived_at = models.DateTimeField(_("arrived at"), null=True, blank=True)
    test_drive = models.BooleanField(_("test drive"), default=False)
    group_size = models.PositiveSmallIntegerField(_("group size"), default=1)
    # Recorded when the customer came without a booking (walked in, or came
    # back by themselves): a visit for the KPIs, not an invitation.
    is_walk_in = models.BooleanField(_("came without booking"), default=False)
    # 1 for the lead's first visit, 2 for a return visit (再回展厅), …
    visit_number = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("visit number")
    )
    no_show_at = models.DateTimeField(null=True, blank=True, verbose_name=_("no show at"))
    cancelled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("cancelled at"))
    # Bumped by every reschedule; part of the SMS idempotency keys.
    version = models.PositiveSmallIntegerField(default=1, verbose_name=_("version"))
    # Neither arrived nor no-show a grace period after its time.
    flagged_at = models.DateTimeField(_("flagged for confirmation"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    history = HistoricalRecords()
    objects = AppointmentQuerySet.as_manager()

    class Meta:
        ordering = ["scheduled_at"]
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        constraints = [
            # One pending visit per lead (PENDING_APPOINTMENT): a second
            # booking, however concurrent, is refused (services.AppointmentPending).
            models.UniqueConstraint(
                fields=["lead"],
                condition=Q(status__in=["booked", "confirmed"]),
                name="appt_one_pending_per_lead",
            ),
        ]
        indexes = [
            # Queue: an agent's appointments to confirm tomorrow.
            models.Index(fields=["agent", "scheduled_at"], name="appt_agent_time_idx"),
            # KPIs: visits by store and arrival day.
            models.Index(fields=["store", "arrived_at"], name="appt_store_arrived_idx"),
            # KPIs of a team or an agent (kpi.metrics.figures._visit_figures):
            # a period's arrived visits, whoever hosted, booked or owns them
            # (a team's month so far at 1M leads: 70 ms to 20 ms).
            models.Index(
                fields=["arrived_at"],
                condition=Q(status=AppointmentStatus.ARRIVED),
                name="appt_arrived_idx",
            ),
            # Grace sweep: pending appointments by time (called by flag_overdue_appointments).
            models.Index(
                fields=["scheduled_at"],
                condition=Q(status__in=["booked", "confirmed"], flagged_at__isnull=True),
                name="appt_pending_unflagged_idx",
            ),
        ]

    def __str__(self):
        return f"{self.lead_id} @ {self.scheduled_at:%Y-%m-%d %H:%M}"


class BreachKind(models.TextChoices):
    MANUFACTURER_48H = "manufacturer_48h", _("Manufacturer lead not contacted in time")
    TRANSFER = "transfer", _("Transferred lead not contacted in time")


class SlaBreachQuerySet(ScopedQuerySet):
    scope_paths = ScopePaths(store="store", team="lead__owner__team", own="lead__owner")

    def scope_q(self, user, level: Level) -> Q:
        """A team's rows as the scope paths define them (the lead's owner is
        in the team, or is the user), written as the owners' leads: the
        same rows, but the condition on the team and the user's own id no
        longer ORs two joined tables, which made PostgreSQL read every lead
        for the supervisor's layout badge."""
        if level is Level.TEAM and user.team_id:
            owners = get_user_model().objects.filter(Q(team=user.team_id) | Q(pk=user.pk))
            return Q(lead__owner__in=owners.values("pk"))
        return super().scope_q(user, level)

    def open(self):
        """Not acknowledged, and not proven false by a call log that came
        late (a contact at or before the deadline: see followups.sla)."""
        return self.filter(acknowledged_at__isnull=True).exclude(contacted_at__lte=F("due_at"))


class SlaBreach(models.Model):
    """A first-contact deadline missed. One row per lead and deadline: the
    unique constraint makes a second sweep (or two at once) add nothing."""

    store = models.ForeignKey(
        "dcc.Store", on_delete=models.PROTECT, related_name="+", verbose_name=_("store")
    )
    lead = models.ForeignKey(
        "leads.Lead", on_delete=models.CASCADE, related_name="sla_breaches", verbose_name=_("lead")
    )
    kind = models.CharField(max_length=20, choices=BreachKind.choices, verbose_name=_("kind"))
    due_at = models.DateTimeField(_("was due"))
    breached_at = models.DateTimeField(_("flagged at"), auto_now_add=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("owner at the time"),
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True, verbose_name=_("acknowledged at"))
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("acknowledged by"),
    )
    # What the supervisor found and did (required when acknowledging).
    acknowledge_note = models.TextField(
        _("acknowledgement note"),
        blank=True,
        default="",
        db_default="",  # the sweep inserts breaches in SQL
        validators=[no_control_characters],
    )
    # The first contact that met the rule, recorded after the breach was
    # raised (a call log arriving late): at or before due_at the breach was a
    # false alarm (kept, no longer open); after it, the lead was met late.
    contacted_at = models.DateTimeField(_("contacted at"), null=True, blank=True)
    contact_call = models.ForeignKey(
        "telephony.Call",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        verbose_name=_("call that met the rule"),
    )

    objects = SlaBreachQuerySet.as_manager()

    class Meta:
        ordering = ["-due_at"]
        verbose_name = _("SLA breach")
        verbose_name_plural = _("SLA breaches")
        constraints = [
            models.UniqueConstraint(fields=["lead", "due_at"], name="sla_breach_once_per_deadline"),
        ]
        indexes = [
            # The layout's badge and the breach page: a store's open breaches.
            models.Index(
                fields=["store", "due_at"],
                condition=Q(acknowledged_at__isnull=True),
                name="sla_breach_open_idx",
            ),
        ]

    def __str__(self):
        return f"{self.lead_id} {self.kind}"

    @property
    def met_in_time(self) -> bool:
        """Proven by a late call log: the contact was made by the deadline."""
        return self.contacted_at is not None and self.contacted_at <= self.due_at


class SmsKind(models.TextChoices):
    BOOKING_CUSTOMER = "booking_customer", _("Booking confirmation to the customer")
    BOOKING_RECEIVER = "booking_receiver", _("Booking notice to the salesperson")
    REMINDER_CUSTOMER = "reminder_customer", _("Day-before reminder to the customer")
    # A campaign's SMS round (followups.campaigns): the campaign's template.
    CAMPAIGN = "campaign", _("Campaign message")


class DeliveryStatus(models.TextChoices):
    """What the provider's delivery receipt (status report) said."""

    UNKNOWN = "", _("No receipt yet")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Not delivered")


class SmsStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    # A worker died mid-send: the provider may or may not have it. Never
    # resent automatically (providers do not de-duplicate); a person checks.
    UNCERTAIN = "uncertain", _("Outcome unknown")
    CANCELLED = "cancelled", _("Cancelled")


class SmsMessageQuerySet(ScopedQuerySet):
    scope_paths = ScopePaths(store="store", team="lead__owner__team", own="lead__owner")


class SmsMessage(models.Model):
    """The outbox: written before the send, updated after (STYLE.md)."""

    store = models.ForeignKey(
        "dcc.Store", on_delete=models.PROTECT, related_name="+", verbose_name=_("store")
    )
    lead = models.ForeignKey(
        "leads.Lead",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sms",
        verbose_name=_("lead"),
    )
    appointment = models.ForeignKey(
        Appointment,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sms",
        verbose_name=_("appointment"),
    )
    kind = models.CharField(_("kind"), max_length=30, choices=SmsKind.choices)
    phone = models.CharField(_("phone"), max_length=20)
    # Mainland SMS is template-only: a kind's template with ordered parameters
    # and the store's signature (TELEPHONY.md "SMS providers").
    params = models.JSONField(_("parameters"), default=list)
    signature = models.CharField(max_length=30, blank=True, default="", verbose_name=_("signature"))
    # Unique: the same appointment, kind and version can only ever have one row.
    idempotency_key = models.CharField(
        max_length=100, unique=True, verbose_name=_("idempotency key")
    )
    status = models.CharField(
        _("status"), max_length=20, choices=SmsStatus.choices, default=SmsStatus.PENDING
    )
    send_after = models.DateTimeField(_("send after"))
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True, default="")
    backend = models.CharField(max_length=50, blank=True, default="", verbose_name=_("backend"))
    provider_id = models.CharField(
        max_length=100, blank=True, default="", verbose_name=_("provider id")
    )
    claimed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("claimed at"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    # Messages planned together (a campaign round: "campaign:<id>:round:<n>"),
    # sent together by followups.sms.send_batch; blank for single messages.
    batch = models.CharField(_("batch"), max_length=60, blank=True, default="")
    # A campaign message names the provider template it uses (per campaign);
    # the appointment kinds use the backend's template per kind.
    template_id = models.CharField(_("provider template id"), max_length=30, blank=True, default="")
    # From the provider's delivery receipt (status report callback).
    delivery_status = models.CharField(
        _("delivery status"),
        max_length=20,
        choices=DeliveryStatus.choices,
        blank=True,
        default=DeliveryStatus.UNKNOWN,
    )
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    delivery_error = models.CharField(_("delivery error"), max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    objects = SmsMessageQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("SMS message")
        verbose_name_plural = _("SMS messages")
        indexes = [
            # The dispatcher's "due now" scan (followups.tasks.dispatch_due_sms).
            models.Index(
                fields=["send_after"], condition=Q(status="pending"), name="sms_pending_due_idx"
            ),
            # The layout's badge: messages that need a person.
            models.Index(
                fields=["store"],
                condition=Q(status__in=["failed", "uncertain"]),
                name="sms_needs_person_idx",
            ),
            # A round's messages (followups.sms.send_batch).
            models.Index(
                fields=["batch", "send_after"],
                condition=~Q(batch=""),
                name="sms_batch_idx",
            ),
            # Receipts find their message by the provider's id (sid).
            models.Index(
                fields=["provider_id"],
                condition=~Q(provider_id=""),
                name="sms_provider_id_idx",
            ),
        ]

    def __str__(self):
        return f"{self.kind} → {self.phone}"

    @property
    def phone_display(self) -> str:
        """As people read it; a receiver's mobile may be stored as typed."""
        from leads import phones

        return phones.display(self.phone) if self.phone.startswith("+") else self.phone


class SmsReplyQuerySet(ScopedQuerySet):
    scope_paths = ScopePaths(store="store")


class SmsReply(models.Model):
    """A customer's reply to one of the store's messages, pushed by the
    provider (Tencent Cloud SMS reply push), kept whatever it says."""

    store = models.ForeignKey(
        "dcc.Store", on_delete=models.PROTECT, related_name="+", verbose_name=_("store")
    )
    # E.164 when the number reads as one, else as the provider sent it.
    phone = models.CharField(_("phone"), max_length=20)
    text = models.TextField(_("text"))
    received_at = models.DateTimeField(_("received at"))
    provider = models.CharField(_("provider"), max_length=50, blank=True, default="")
    sign = models.CharField(_("signature"), max_length=30, blank=True, default="")
    extend = models.CharField(_("extension code"), max_length=30, blank=True, default="")
    # The provider's push as received (for a person checking a dispute).
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    # The message it answers: the latest one sent to that number by the store.
    sms = models.ForeignKey(
        SmsMessage,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="replies",
        verbose_name=_("SMS message"),
    )
    # A push delivered twice is stored once (provider, number, time, text).
    dedup_key = models.CharField(_("duplicate key"), max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    objects = SmsReplyQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("SMS reply")
        verbose_name_plural = _("SMS replies")
        indexes = [models.Index(fields=["store", "phone"], name="sms_reply_store_phone_idx")]

    def __str__(self):
        return f"{self.phone}: {self.text[:20]}"
