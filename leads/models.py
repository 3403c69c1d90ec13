"""Leads (DESIGN §2): customers known by phone, leads from four sources plus
inbound and walk-in, the A → B → C card lifecycle, defeat and activation.

Rules live in ``leads.services``; this module holds data, single-row checks
and the database constraints that are the final arbiter (one open lead per
phone per store).
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from dcc.policy import GroupWideQuerySet, ScopedQuerySet, ScopePaths, scope_level
from dcc.policy import Level as ScopeLevel
from dcc.roles import Role
from dcc.timeutils import local_day_start
from dcc.validators import no_control_characters
from leads import phones


class VehicleModel(models.Model):
    name = models.CharField(
        _("name"), max_length=100, unique=True, validators=[no_control_characters]
    )
    # Targets and the commission prerequisite are set per category (DESIGN §3).
    category = models.CharField(_("category"), max_length=50, validators=[no_control_characters])
    is_active = models.BooleanField(_("active"), default=True)

    history = HistoricalRecords()
    objects = GroupWideQuerySet.as_manager()

    class Meta:
        ordering = ["category", "name"]
        verbose_name = _("vehicle model")
        verbose_name_plural = _("vehicle models")

    def __str__(self):
        return self.name


class DefeatReasonQuerySet(ScopedQuerySet):
    """Group-wide reasons (store empty) plus each store's own."""

    def visible_to(self, user):
        level = scope_level(user)
        if level is None:
            return self.none()
        if level is ScopeLevel.ALL:
            return self.all()
        return self.filter(Q(store__isnull=True) | Q(store_id=user.store_id))

    def for_store(self, store):
        """A store's active list. Its own reason wins over a group-wide one
        with the same code, so a code names exactly one reason."""
        if store is None:
            return self.filter(store__isnull=True, is_active=True)
        own_codes = DefeatReason.objects.filter(store=store, is_active=True).values("code")
        return self.filter(Q(store__isnull=True) | Q(store=store), is_active=True).exclude(
            Q(store__isnull=True) & Q(code__in=own_codes)
        )


class Channel(models.Model):
    """Where a web lead came from (seed 004); the channel statistics count by it."""

    code = models.SlugField(_("code"), max_length=30, unique=True)
    label = models.CharField(_("label"), max_length=50, validators=[no_control_characters])
    sort_order = models.PositiveSmallIntegerField(default=100, verbose_name=_("sort order"))
    is_active = models.BooleanField(_("active"), default=True)

    objects = GroupWideQuerySet.as_manager()

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("channel")
        verbose_name_plural = _("channels")

    def __str__(self):
        return self.label


class DefeatReason(models.Model):
    """A store's managed list of defeat reasons (API.md); empty store = every store."""

    store = models.ForeignKey(
        "dcc.Store",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("store"),
    )
    code = models.SlugField(_("code"), max_length=30)
    label = models.CharField(_("label"), max_length=50, validators=[no_control_characters])
    sort_order = models.PositiveSmallIntegerField(default=100, verbose_name=_("sort order"))
    is_active = models.BooleanField(_("active"), default=True)

    objects = DefeatReasonQuerySet.as_manager()

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("defeat reason")
        verbose_name_plural = _("defeat reasons")
        constraints = [
            models.UniqueConstraint(
                fields=["code"], condition=Q(store__isnull=True), name="defeat_reason_code_global"
            ),
            models.UniqueConstraint(fields=["store", "code"], name="defeat_reason_code_per_store"),
        ]

    def __str__(self):
        return self.label


class Source(models.TextChoices):
    MANUFACTURER = "manufacturer", _("Manufacturer")
    WEB = "web", _("Web")
    LOW_INTENT = "low_intent", _("Low-intent / defeated handover")
    REPURCHASE = "repurchase", _("Base-customer repurchase")
    INBOUND = "inbound", _("Inbound call")
    WALK_IN = "walk_in", _("Walk-in")


class Level(models.TextChoices):
    """Intent level by expected purchase time (DESIGN §2)."""

    H = "H", _("H (within 7 days)")
    A = "A", _("A (within 15 days)")
    B = "B", _("B (within 30 days)")
    C = "C", _("C (beyond 30 days)")


class Status(models.TextChoices):
    NEW = "new", _("New")
    ACTIVE = "active", _("Following up")
    INVITED = "invited", _("Invited")
    VISITED = "visited", _("Visited")
    ORDERED = "ordered", _("Ordered")
    DELIVERED = "delivered", _("Delivered")
    DEFEAT_PENDING = "defeat_pending", _("Defeat pending approval")
    DEFEATED = "defeated", _("Defeated")
    INVALID = "invalid", _("Invalid")
    # Closed by a merge (leads.services.lead_merge): its work lives on in the
    # lead it points to (``merged_into``); never counted as a lead of its own.
    MERGED = "merged", _("Merged")


# A lead is open while someone is still working it; a phone has at most one
# open lead per store (the constraint below), so re-entering it finds that lead.
OPEN_STATUSES = (
    Status.NEW,
    Status.ACTIVE,
    Status.INVITED,
    Status.VISITED,
    Status.ORDERED,
    Status.DEFEAT_PENDING,
)


# Closed leads that may still be called by their owner on a re-contact date
# (战败回访, 成交客户定期回访) without being reopened.
RECONTACT_STATUSES = (Status.DEFEATED, Status.DELIVERED)


class PoolReason(models.TextChoices):
    """Why a store rule took a lead from its owner into the pool (公海)."""

    FIRST_CONTACT = "first_contact", _("First-contact deadline passed")
    UNANSWERED = "unanswered", _("Too many unanswered attempts")
    OVERDUE = "overdue", _("Follow-up overdue")


class InvalidReason(models.TextChoices):
    WRONG_NUMBER = "wrong_number", _("Wrong number")
    NO_INTENT = "no_intent", _("No purchase intent")
    DUPLICATE = "duplicate", _("Duplicate")
    PEER = "peer", _("Dealer or peer")
    OTHER = "other", _("Other")


def is_aftersales(user) -> bool:
    """An active after-sales / customer-service member of a store."""
    return (
        scope_level(user) is not None
        and user.effective_role == Role.AFTERSALES
        and bool(user.store_id)
    )


class CustomerQuerySet(ScopedQuerySet):
    # A customer is visible with any of their leads.
    scope_paths = ScopePaths(store="store", team="leads__owner__team", own="leads__owner")

    def visible_to(self, user):
        if is_aftersales(user):
            # After-sales staff see the store's owners (issue 18), no one else.
            owners = OwnedVehicle.objects.filter(store_id=user.store_id).values("customer_id")
            return self.filter(store_id=user.store_id, pk__in=owners)
        queryset = super().visible_to(user)
        # The team and own paths cross a to-many relation: one row per customer.
        if scope_level(user) in (ScopeLevel.OWN, ScopeLevel.TEAM):
            return queryset.distinct()
        return queryset


class Customer(models.Model):
    store = models.ForeignKey(
        "dcc.Store", on_delete=models.PROTECT, related_name="customers", verbose_name=_("store")
    )
    name = models.CharField(_("name"), max_length=50, validators=[no_control_characters])
    # Seed 003: an A-card counts only with the customer's *full* name; "王先生"
    # is a form of address, not a name. Set by the service that sets the name.
    has_full_name = models.BooleanField(_("full name given"), default=False)
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="merged_from",
        verbose_name=_("merged into"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()
    objects = CustomerQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")

    def __str__(self):
        return self.name


class CustomerPhone(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="phones")
    # Denormalised from the customer so that the database can hold the rule
    # "one phone, one customer per store".
    store = models.ForeignKey("dcc.Store", on_delete=models.PROTECT, related_name="+")
    number = models.CharField(_("phone"), max_length=20)
    is_primary = models.BooleanField(_("primary"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("customer phone")
        verbose_name_plural = _("customer phones")
        constraints = [
            models.UniqueConstraint(
                fields=["store", "number"], name="customer_phone_unique_in_store"
            ),
        ]
        indexes = [
            # KPI card-creation rate (kpi.metrics.rows.carded_q): a caller's
            # number among every customer's phones, whatever the store. One
            # small index on a table written once per phone; without it each
            # first-time caller scans the store's leads of the period.
            models.Index(fields=["number"], name="customer_phone_number_idx"),
        ]

    def __str__(self):
        return phones.display(self.number)


class LeadRules:
    """The working rules on a lead's fields, each written once as a ``Q``:
    the agent's queue, the supervisor's team health, the dashboards and the
    KPIs filter and count by these, so they cannot disagree. ``day_start``
    is the start of the local day (``dcc.timeutils.local_day_start``)."""

    @staticmethod
    def not_yet_contacted() -> Q:
        """A new lead nobody has called yet (the queue's "new")."""
        return Q(status=Status.NEW, first_contacted_at__isnull=True)

    @staticmethod
    def first_contact_pending() -> Q:
        """A first-contact deadline runs and no call has met it yet (the SLA
        sweep's "not met"): a new manufacturer lead, a transferred or
        re-activated one."""
        return Q(first_contact_due__isnull=False, sla_met_at__isnull=True)

    @staticmethod
    def first_contact_due_before(moment) -> Q:
        """Its first-contact deadline is unmet and falls before ``moment``
        (passed, or within the store's warning hours)."""
        return LeadRules.first_contact_pending() & Q(first_contact_due__lt=moment)

    @staticmethod
    def first_contact_owed() -> Q:
        """Nobody has called it yet, or a running deadline is unmet."""
        return LeadRules.not_yet_contacted() | LeadRules.first_contact_pending()

    @staticmethod
    def overdue(day_start) -> Q:
        """Its next follow-up was planned before today."""
        return Q(next_followup_at__lt=day_start)

    @staticmethod
    def due_between(start, end) -> Q:
        """Its next follow-up falls in [start, end) (today: due today)."""
        return Q(next_followup_at__gte=start, next_followup_at__lt=end)

    @staticmethod
    def retry_due(now, retry_after) -> Q:
        """Not reached, and the retry interval since the last attempt passed."""
        return Q(unanswered_attempts__gt=0, last_attempt_at__lte=now - retry_after)

    @staticmethod
    def escalated() -> Q:
        """Sent to the supervisor after too many unanswered calls."""
        return Q(escalated_at__isnull=False, unanswered_attempts__gt=0)

    @staticmethod
    def transferable() -> Q:
        """What a transfer moves: open leads, and defeated ones it revives."""
        return Q(status__in=OPEN_STATUSES) | Q(status=Status.DEFEATED)


# A visit's statuses (followups.AppointmentStatus, a layer above) during
# which its receiver may open the lead: booked or confirmed; arrived, until
# the end of the local day it arrived.
_RECEIVER_PENDING = ("booked", "confirmed")
_RECEIVER_ARRIVED = "arrived"


class LeadQuerySet(ScopedQuerySet):
    scope_paths = ScopePaths(store="store", team="owner__team", own="owner")

    def visible_to(self, user):
        """The policy's rows, and the leads whose store visit ``user``
        receives (a showroom consultant, or a DCC agent) or booked (mode
        two's caller, who handed the lead over) while that visit is booked or
        confirmed, or arrived today: to read the lead and act on the visit,
        never owning it (``workable_by`` leaves them out)."""
        level = scope_level(user)
        if level is None or level is ScopeLevel.ALL:
            return super().visible_to(user)
        return self.filter(self.scope_q(user, level) | self.received_q(user))

    def workable_by(self, user):
        """The leads ``user`` may change (log a contact, book, defeat, edit…):
        the policy's rows without the receiver's reach (``leads.lifecycle``)."""
        return super().visible_to(user)

    def received_q(self, user) -> Q:
        """The leads of the visits ``user`` receives or booked, now (see
        ``visible_to``)."""
        today = local_day_start(timezone.localdate())
        visits = (Q(appointments__receiver=user) | Q(appointments__agent=user)) & (
            Q(appointments__status__in=_RECEIVER_PENDING)
            | Q(appointments__status=_RECEIVER_ARRIVED, appointments__arrived_at__gte=today)
        )
        return Q(pk__in=self.model.objects.filter(visits).values("pk"))

    def open(self):
        return self.filter(status__in=OPEN_STATUSES)

    def not_yet_contacted(self):
        return self.filter(LeadRules.not_yet_contacted())

    def overdue(self, day_start):
        return self.filter(LeadRules.overdue(day_start))

    def due_between(self, start, end):
        return self.filter(LeadRules.due_between(start, end))

    def transferable(self):
        return self.filter(LeadRules.transferable())

    def valid_a_cards(self):
        """Seed 003: full name, valid phone (every stored phone is) and an intended model."""
        return self.filter(customer__has_full_name=True, intended_model__isnull=False)

    def unassigned(self):
        return self.filter(owner__isnull=True)

    def counted(self):
        """The leads the figures count: a lead closed by a merge lives on in
        the lead it was merged into and is not counted twice."""
        return self.exclude(status=Status.MERGED)

    def pooled(self):
        """Open leads in the pool (公海): ownerless, waiting for a claim."""
        return self.filter(pooled_at__isnull=False, owner__isnull=True, status__in=OPEN_STATUSES)

    def pool_for(self, user):
        """The pool ``user`` may see: their store's (every store's for a
        group administrator). The pool is shared by the store's staff, so the
        owner and team levels do not narrow it; nobody sees another store's."""
        level = scope_level(user)
        if level is None:
            return self.none()
        pooled = self.pooled()
        if level is ScopeLevel.ALL:
            return pooled
        if not user.store_id:
            return self.none()
        return pooled.filter(store_id=user.store_id)


class Lead(models.Model):
    # db_index=False on a foreign key below: its lookups are served by a
    # composite index in Meta (store, owner) or it is never filtered on; each
    # index costs every lead write (the 10,000-row import above all).
    store = models.ForeignKey(
        "dcc.Store",
        on_delete=models.PROTECT,
        related_name="leads",
        verbose_name=_("store"),
        db_index=False,
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="leads", verbose_name=_("customer")
    )
    # The number this lead was entered with, kept on the lead so that the
    # database itself refuses a second open lead for it in the store.
    phone = models.CharField(_("phone"), max_length=20)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    channel = models.ForeignKey(
        Channel,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="leads",
        verbose_name=_("channel"),
        db_index=False,
    )
    intended_model = models.ForeignKey(
        VehicleModel,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="leads",
        verbose_name=_("intended model"),
        db_index=False,
    )
    level = models.CharField(_("level"), max_length=1, choices=Level.choices, default=Level.B)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.NEW
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="owned_leads",
        verbose_name=_("owner"),
        db_index=False,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("entered by"),
        db_index=False,
    )
    # For manufacturer leads: the OEM's issue time (the 48-hour clock starts here).
    received_at = models.DateTimeField(_("received at"))
    first_contact_due = models.DateTimeField(_("first contact due"), null=True, blank=True)
    first_contacted_at = models.DateTimeField(_("first contacted at"), null=True, blank=True)
    expected_purchase_date = models.DateField(_("expected purchase date"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True, default="", validators=[no_control_characters])
    # Set when the DCC books the customer's store visit: from then on no
    # showroom consultant may take the lead over (seed 001).
    is_dcc_invited = models.BooleanField(_("invited by the DCC"), default=False)
    # A base customer's vehicle offered in part exchange (a repurchase lead
    # from a campaign call names the vehicle the customer owns).
    trade_in = models.ForeignKey(
        "leads.OwnedVehicle",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("trade-in vehicle"),
        db_index=False,
    )

    defeat_reason = models.ForeignKey(
        DefeatReason,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("defeat reason"),
        db_index=False,
    )
    defeat_note = models.TextField(
        _("defeat note"), blank=True, default="", validators=[no_control_characters]
    )
    defeated_at = models.DateTimeField(_("defeated at"), null=True, blank=True)
    defeat_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("defeat requested by"),
    )
    # Where a rejected defeat request returns the lead to.
    status_before_defeat = models.CharField(
        max_length=20, choices=Status.choices, blank=True, verbose_name=_("status before defeat")
    )
    invalid_reason = models.CharField(
        _("invalid reason"), max_length=20, choices=InvalidReason.choices, blank=True
    )
    invalid_note = models.TextField(
        _("invalid note"), blank=True, default="", validators=[no_control_characters]
    )

    # A handover from the showroom (低意向移交, seed 001) carries where it came from.
    handover_consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("handed over by"),
        db_index=False,
    )
    handover_visit_date = models.DateField(_("showroom visit date"), null=True, blank=True)
    handover_defeat_reason = models.TextField(
        _("showroom defeat reason"), blank=True, default="", validators=[no_control_characters]
    )
    transferred_at = models.DateTimeField(_("transferred at"), null=True, blank=True)
    # Life after close: a defeated lead's re-contact date (战败回访) or a
    # delivered customer's next after-sales call (成交客户定期回访). It brings
    # the closed lead back to its owner's queue; it never reopens it.
    recontact_at = models.DateTimeField(_("re-contact on"), null=True, blank=True)
    # The C-card customer who recommended this one (转介绍).
    referred_by = models.ForeignKey(
        Customer,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="referrals",
        verbose_name=_("referred by"),
    )

    # Kept by followups.services: the call queue and the SLA sweep read them.
    next_followup_at = models.DateTimeField(_("next follow-up"), null=True, blank=True)
    # The first logged call at or after the current deadline's clock start
    # (receipt, or the last transfer/activation): what the SLA sweep checks.
    sla_met_at = models.DateTimeField(_("first contact in time"), null=True, blank=True)
    # The call (telephony's id) that met the first-contact rule when the
    # store's rule is a connected call (followups.sla); empty for a logged one.
    sla_met_call_id = models.BigIntegerField(
        null=True, blank=True, verbose_name=_("call that met the first-contact rule")
    )
    # Minutes from receipt (or transfer) to the first logged contact.
    first_contact_minutes = models.PositiveIntegerField(
        null=True, blank=True, verbose_name=_("first contact minutes")
    )
    unanswered_attempts = models.PositiveSmallIntegerField(_("unanswered attempts"), default=0)
    # The latest of those unanswered calls: the queue retries after it.
    last_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last attempt at"))
    escalated_at = models.DateTimeField(_("escalated to the supervisor"), null=True, blank=True)

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # Distribution on arrival (leads.distribution): the rule that gave the
    # lead its owner and when; empty for a lead given by hand.
    distribution_rule = models.ForeignKey(
        "leads.DistributionRule",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("assigned by rule"),
        db_index=False,
    )
    distributed_at = models.DateTimeField(_("assigned by rule at"), null=True, blank=True)
    # A manufacturer lead nobody took by the store's assignment windows:
    # flagged for the manager (followups.pool.flag_unassigned).
    unassigned_flagged_at = models.DateTimeField(_("flagged unassigned at"), null=True, blank=True)
    # The pool (公海, leads.pool): a lead taken from its owner by the store's
    # rules waits here, ownerless, for an agent to claim it.
    pooled_at = models.DateTimeField(_("in the pool since"), null=True, blank=True)
    pool_reason = models.CharField(
        _("sent to the pool because"),
        max_length=20,
        choices=PoolReason.choices,
        blank=True,
        default="",
    )
    pool_claimed_at = models.DateTimeField(_("claimed from the pool at"), null=True, blank=True)
    # A lead closed by a merge: the lead that carries its work now.
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="merged_from",
        verbose_name=_("merged into"),
        db_index=False,
    )
    # The file import that created the lead (its history page, its undo).
    lead_import = models.ForeignKey(
        "leads.LeadImport",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="leads",
        verbose_name=_("import"),
        db_index=False,
    )

    # History is read by lead (``id``) and time; its foreign keys need no index.
    history = HistoricalRecords(
        excluded_fields=["updated_at", "next_followup_at", "last_attempt_at"],
        no_db_index=[
            "store",
            "customer",
            "channel",
            "intended_model",
            "owner",
            "created_by",
            "defeat_reason",
            "defeat_requested_by",
            "handover_consultant",
            "lead_import",
            "referred_by",
            "distribution_rule",
            "merged_into",
        ],
    )
    objects = LeadQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        constraints = [
            # First entry wins (DESIGN §2): concurrent entries of one phone
            # leave exactly one open lead; the service turns the loser's
            # IntegrityError into "already entered by …".
            models.UniqueConstraint(
                fields=["store", "phone"],
                condition=Q(status__in=OPEN_STATUSES),
                name="lead_one_open_per_phone_per_store",
            ),
        ]
        indexes = [
            # Lead list and manager pages filter a store's leads by status and date.
            models.Index(fields=["store", "status", "received_at"], name="lead_store_status_idx"),
            # An agent's own leads by status (queue, list).
            models.Index(fields=["owner", "status"], name="lead_owner_status_idx"),
            # Unassigned manufacturer leads by deadline (manager's assignment page).
            models.Index(
                fields=["store", "first_contact_due"],
                condition=Q(owner__isnull=True),
                name="lead_unassigned_due_idx",
            ),
            # Matching calls and duplicate checks by number across statuses.
            models.Index(fields=["phone"], name="lead_phone_idx"),
            # An import's leads (its undo); only imported leads are indexed.
            models.Index(
                fields=["lead_import"],
                condition=Q(lead_import__isnull=False),
                name="lead_import_idx",
            ),
            # The call queue: an agent's open leads by next follow-up time
            # (followups.selectors.queue_for_agent).
            # Covering every other column the queue's sections and their
            # order read, so that ranking an agent's open leads is an
            # index-only scan (with the id, the confirmations' visits find
            # their leads there too): the heap visit of each lead, one page
            # each, was most of the queue's SQL time.
            models.Index(
                fields=["owner", "next_followup_at"],
                include=[
                    "status",
                    "first_contacted_at",
                    "unanswered_attempts",
                    "last_attempt_at",
                    "id",
                    "first_contact_due",
                    "sla_met_at",
                    "recontact_at",
                    "received_at",
                ],
                condition=Q(status__in=OPEN_STATUSES),
                name="lead_queue_next_idx",
            ),
            # The call queue's "retry" section: an agent's leads not reached yet.
            models.Index(
                fields=["owner", "last_attempt_at"],
                condition=Q(status__in=OPEN_STATUSES, unanswered_attempts__gt=0),
                name="lead_queue_retry_idx",
            ),
            # KPI follow-up rate (kpi.metrics.rows.carried_over_q): a store's
            # leads not called before the period's start (never, or since);
            # with lead_store_status_idx for those received in the period the
            # scan is a BitmapOr instead of every lead of the store (0.36 s
            # to 0.15 s a store-month at 1M leads). first_contacted_at is set
            # once per lead, so the index costs about one write per lead.
            models.Index(fields=["store", "first_contacted_at"], name="lead_store_first_call_idx"),
            # A team's leads by owner: the supervisor's open-breach badge
            # (the lead ids of the team's owners, index-only: 0.2 s to 0.02 s
            # at 1M leads) and the KPI dashboards' lead figures of a team or
            # of each agent, by receipt.
            models.Index(
                fields=["owner", "received_at"], include=["id"], name="lead_owner_received_idx"
            ),
            # The KPI lead figures of each agent or of a team's members
            # (kpi.grouped): with lead_owner_received_idx, the leads not
            # called before the period's start are a BitmapOr too, instead
            # of every lead of the owners (0.2 s to 0.02 s for a store's
            # agents at 1M leads).
            models.Index(fields=["owner", "first_contacted_at"], name="lead_owner_first_call_idx"),
            # The dashboards' defeat analysis (kpi.dashboards.defeats): a
            # store's leads defeated in the month, not all its leads.
            models.Index(
                fields=["store", "defeated_at"],
                condition=Q(status=Status.DEFEATED),
                name="lead_store_defeated_idx",
            ),
            # The call queue's "recontact" section: an owner's closed leads
            # with a re-contact date (followups.selectors._Queue).
            models.Index(
                fields=["owner", "recontact_at"],
                condition=Q(recontact_at__isnull=False),
                name="lead_recontact_idx",
            ),
            # The pool page and its dashboard figures: a store's pooled leads.
            models.Index(
                fields=["store", "pooled_at"],
                condition=Q(pooled_at__isnull=False),
                name="lead_pool_idx",
            ),
            # Distribution's daily cap: what the rules gave someone today.
            models.Index(
                fields=["owner", "distributed_at"],
                condition=Q(distributed_at__isnull=False),
                name="lead_distributed_idx",
            ),
            # The SLA sweep's scan of recent deadlines (followups.sla.sweep_breaches).
            models.Index(
                fields=["first_contact_due"],
                condition=Q(first_contact_due__isnull=False),
                name="lead_sla_due_idx",
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.customer.name if self.customer_id else ''}"

    @property
    def is_open(self):
        return self.status in OPEN_STATUSES

    @property
    def is_valid_a_card(self):
        return bool(self.customer.has_full_name and self.intended_model_id)

    @property
    def phone_display(self):
        return phones.display(self.phone)

    @property
    def phone_masked(self):
        return phones.masked(self.phone)


class DealQuerySet(ScopedQuerySet):
    scope_paths = ScopePaths(store="store", team="agent__team", own="agent")


class Deal(models.Model):
    """One sold vehicle: a B-card while ordered, a C-card once delivered
    (seed 003). Counted once, at its order or, with no order, its delivery."""

    store = models.ForeignKey(
        "dcc.Store", on_delete=models.PROTECT, related_name="+", verbose_name=_("store")
    )
    lead = models.ForeignKey(
        Lead, on_delete=models.PROTECT, related_name="deals", verbose_name=_("lead")
    )
    vehicle_model = models.ForeignKey(
        VehicleModel, on_delete=models.PROTECT, related_name="+", verbose_name=_("vehicle model")
    )
    # The staff member credited: the lead's owner when the deal was recorded.
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="deals",
        verbose_name=_("agent"),
    )
    ordered_at = models.DateTimeField(_("ordered at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    history = HistoricalRecords()
    objects = DealQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        constraints = [
            models.CheckConstraint(
                condition=Q(ordered_at__isnull=False) | Q(delivered_at__isnull=False),
                name="deal_has_a_date",
            ),
        ]
        indexes = [models.Index(fields=["store", "ordered_at"], name="deal_store_ordered_idx")]

    def __str__(self):
        return f"{self.vehicle_model} ({self.lead_id})"

    @property
    def card(self):
        return "C" if self.delivered_at else "B"

    @property
    def deal_at(self):
        return self.ordered_at or self.delivered_at


# ---------------------------------------------------------------- owners (issue 18)


class StoreOwnersQuerySet(ScopedQuerySet):
    """Rows about the store's base customers: the policy's levels, and for
    after-sales staff (who own no lead) every row of their store."""

    def visible_to(self, user):
        if is_aftersales(user):
            return self.filter(store_id=user.store_id)
        queryset = super().visible_to(user)
        if scope_level(user) in (ScopeLevel.OWN, ScopeLevel.TEAM):
            return queryset.distinct()
        return queryset


class OwnedVehicleQuerySet(StoreOwnersQuerySet):
    # An agent sees the vehicles of the customers whose leads they own.
    scope_paths = ScopePaths(
        store="store", team="customer__leads__owner__team", own="customer__leads__owner"
    )


class VehicleSource(models.TextChoices):
    DELIVERY = "delivery", _("Delivery (C-card)")
    IMPORT = "import", _("Imported from a DMS or after-sales file")
    MANUAL = "manual", _("Entered by hand")


class OwnedVehicle(models.Model):
    """A base customer's vehicle: from a delivery, a DMS / after-sales file
    or entered by hand (issue 18)."""

    store = models.ForeignKey(
        "dcc.Store", on_delete=models.PROTECT, related_name="+", verbose_name=_("store")
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="vehicles", verbose_name=_("customer")
    )
    vehicle_model = models.ForeignKey(
        VehicleModel,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("vehicle model"),
    )
    # As the DMS wrote it (also when it matched no model of the list).
    model_name = models.CharField(
        _("model as written"), max_length=100, blank=True, validators=[no_control_characters]
    )
    vin = models.CharField(_("VIN"), max_length=17, blank=True, validators=[no_control_characters])
    plate = models.CharField(
        _("plate"), max_length=20, blank=True, validators=[no_control_characters]
    )
    purchased_on = models.DateField(_("purchased on"), null=True, blank=True)
    delivered_on = models.DateField(_("delivered on"), null=True, blank=True)
    last_service_on = models.DateField(_("last service on"), null=True, blank=True)
    mileage_km = models.PositiveIntegerField(_("mileage (km)"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=20, choices=VehicleSource.choices)
    deal = models.ForeignKey(
        Deal,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("deal"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = OwnedVehicleQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("owned vehicle")
        verbose_name_plural = _("owned vehicles")
        constraints = [
            models.UniqueConstraint(
                fields=["store", "vin"], condition=~Q(vin=""), name="owned_vehicle_vin_per_store"
            ),
            # A delivery makes one vehicle, however often it is recorded.
            models.UniqueConstraint(
                fields=["deal"], condition=Q(deal__isnull=False), name="owned_vehicle_one_per_deal"
            ),
        ]
        indexes = [
            models.Index(fields=["store", "delivered_on"], name="owned_vehicle_store_idx"),
        ]

    def __str__(self):
        return self.plate or self.vin or self.model_name or str(self.vehicle_model or "")

    @property
    def since(self):
        """The date its age counts from: delivery, else purchase."""
        return self.delivered_on or self.purchased_on


class OwnerFlagQuerySet(StoreOwnersQuerySet):
    scope_paths = ScopePaths(store="store", own="created_by")


class OwnerFlagKind(models.TextChoices):
    FLAG = "flag", _("Meets the repurchase criteria")
    RECOMMEND = "recommend", _("Recommended")


class OwnerFlag(models.Model):
    """After-sales or customer service flag an owner who meets the
    repurchase criteria, or recommend them (seed 001)."""

    store = models.ForeignKey(
        "dcc.Store", on_delete=models.PROTECT, related_name="+", verbose_name=_("store")
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="owner_flags", verbose_name=_("customer")
    )
    vehicle = models.ForeignKey(
        OwnedVehicle,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="flags",
        verbose_name=_("vehicle"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=OwnerFlagKind.choices)
    note = models.TextField(_("note"), blank=True, validators=[no_control_characters])
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = OwnerFlagQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("owner flag")
        verbose_name_plural = _("owner flags")

    def __str__(self):
        return f"{self.get_kind_display()}: {self.customer_id}"


class OptOutReason(models.TextChoices):
    REPLY = "reply", _("Replied 退订/TD")
    LIST = "list", _("On the store's opt-out list")
    CALL = "call", _("Asked on a call")
    MANUAL = "manual", _("Entered by hand")


class OptOutQuerySet(StoreOwnersQuerySet):
    scope_paths = ScopePaths(store="store")


class OptOut(models.Model):
    """A number of the store that no campaign ever messages again."""

    store = models.ForeignKey(
        "dcc.Store", on_delete=models.PROTECT, related_name="+", verbose_name=_("store")
    )
    # E.164, as leads.phones.normalize_phone writes it.
    phone = models.CharField(_("phone"), max_length=20)
    reason = models.CharField(_("reason"), max_length=20, choices=OptOutReason.choices)
    note = models.TextField(_("note"), blank=True, validators=[no_control_characters])
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = OptOutQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("opt-out")
        verbose_name_plural = _("opt-outs")
        constraints = [
            models.UniqueConstraint(fields=["store", "phone"], name="opt_out_unique_in_store")
        ]

    def __str__(self):
        return phones.display(self.phone)


# ---------------------------------------------------------------- file imports


class LeadField(models.TextChoices):
    """What a column of an imported file may hold (``leads.importer.COLUMNS``),
    plus the two ways to set a column aside."""

    NAME = "name", _("Name")
    PHONE = "phone", _("Phone")
    SOURCE = "source", _("Source")
    CHANNEL = "channel", _("Channel")
    INTENDED_MODEL = "intended_model", _("Intended model")
    LEVEL = "level", _("Level")
    RECEIVED_AT = "received_at", _("Received at")
    EXPECTED_PURCHASE_DATE = "expected_purchase_date", _("Expected purchase date")
    OWNER = "owner", _("Owner")
    NOTE = "note", _("Note")
    # An owner file (DMS / after-sales, leads.owners): the vehicle's columns;
    # its model is read from the intended-model column.
    VIN = "vin", _("VIN")
    PLATE = "plate", _("Plate")
    PURCHASED_ON = "purchased_on", _("Purchase date")
    DELIVERED_ON = "delivered_on", _("Delivery date")
    LAST_SERVICE_ON = "last_service_on", _("Last service date")
    MILEAGE_KM = "mileage_km", _("Mileage (km)")
    KEEP_IN_NOTE = "keep", _("Keep in the note")
    IGNORE = "ignore", _("Ignore")


class HeaderAlias(models.Model):
    """A column header of some export and the field it holds, added by an
    administrator to the built-in list (``leads.aliases.HEADER_ALIASES``)."""

    header = models.CharField(
        _("column header"), max_length=100, unique=True, validators=[no_control_characters]
    )
    field = models.CharField(_("field"), max_length=30, choices=LeadField.choices)

    class Meta:
        ordering = ["header"]
        verbose_name = _("column header alias")
        verbose_name_plural = _("column header aliases")

    def __str__(self):
        return f"{self.header} → {self.get_field_display()}"


class ValueKind(models.TextChoices):
    CHANNEL = "channel", _("Channel")
    MODEL = "intended_model", _("Vehicle model")


class ValueAlias(models.Model):
    """Another name of a channel or vehicle model (易车 → 易车网, 别克GL8 →
    GL8), read by every way a lead arrives (``leads.aliases.resolve``)."""

    kind = models.CharField(_("kind"), max_length=20, choices=ValueKind.choices)
    alias = models.CharField(_("written as"), max_length=100, validators=[no_control_characters])
    channel = models.ForeignKey(
        Channel, on_delete=models.CASCADE, null=True, blank=True, verbose_name=_("channel")
    )
    vehicle_model = models.ForeignKey(
        VehicleModel,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        verbose_name=_("vehicle model"),
    )

    class Meta:
        ordering = ["kind", "alias"]
        verbose_name = _("value alias")
        verbose_name_plural = _("value aliases")
        constraints = [
            models.UniqueConstraint(fields=["kind", "alias"], name="value_alias_unique"),
            models.CheckConstraint(
                condition=(
                    Q(kind="channel", channel__isnull=False, vehicle_model__isnull=True)
                    | Q(kind="intended_model", channel__isnull=True, vehicle_model__isnull=False)
                ),
                name="value_alias_names_its_target",
            ),
        ]

    def __str__(self):
        return f"{self.alias} → {self.channel or self.vehicle_model}"


class ImportProfileQuerySet(ScopedQuerySet):
    scope_paths = ScopePaths(store="store", own="created_by")


class ImportProfile(models.Model):
    """How a store reads one layout of file: each column's field, and the
    date order. Found again by the file's header (``signature``)."""

    store = models.ForeignKey(
        "dcc.Store", on_delete=models.CASCADE, related_name="+", verbose_name=_("store")
    )
    name = models.CharField(_("name"), max_length=100, validators=[no_control_characters])
    signature = models.CharField(_("header signature"), max_length=64, db_index=True)
    headers = models.JSONField(_("headers"), default=list)
    # Header text (normalised) -> a LeadField value.
    mapping = models.JSONField(_("column mapping"), default=dict)
    day_first = models.BooleanField(
        _("day before month"),
        default=False,
        help_text=_("Read 03/11/2026 as 3 November (else as March 11)."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ImportProfileQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("import profile")
        verbose_name_plural = _("import profiles")
        constraints = [
            models.UniqueConstraint(fields=["store", "name"], name="import_profile_name_unique")
        ]

    def __str__(self):
        return self.name


class ImportStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for the column mapping")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class LeadImportQuerySet(ScopedQuerySet):
    scope_paths = ScopePaths(store="store", own="actor")


class LeadImport(models.Model):
    """One file imported (or being imported): who, when, which file and
    profile, what came of it; the rows in error for download; its undo."""

    store = models.ForeignKey(
        "dcc.Store", on_delete=models.CASCADE, related_name="+", verbose_name=_("store")
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("imported by"),
    )
    filename = models.CharField(_("file"), max_length=255, blank=True)
    file = models.FileField(_("uploaded file"), upload_to="lead-imports/%Y/%m/", blank=True)
    profile = models.ForeignKey(
        ImportProfile,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("profile"),
    )
    # Normalised header -> field, as used (a profile may change later).
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    day_first = models.BooleanField(_("day before month"), default=False)
    partial = models.BooleanField(_("import the good rows"), default=False)
    status = models.CharField(
        _("status"), max_length=20, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    rejected = models.BooleanField(_("refused whole"), default=False)
    message = models.TextField(_("message"), blank=True)
    percent = models.PositiveSmallIntegerField(_("percent done"), default=0)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    duplicates = models.PositiveIntegerField(_("duplicates"), default=0)
    error_count = models.PositiveIntegerField(_("errors"), default=0)
    # [{"row", "field", "message"}] and the file's header and erroneous rows
    # as read, for the error workbook.
    errors = models.JSONField(_("errors found"), default=list, blank=True)
    header = models.JSONField(_("file header"), default=list, blank=True)
    error_rows = models.JSONField(_("rows in error"), default=list, blank=True)
    cancel_requested = models.BooleanField(_("cancel requested"), default=False)
    created_at = models.DateTimeField(_("imported at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("undone by"),
    )
    undo_removed = models.PositiveIntegerField(_("removed by the undo"), default=0)
    undo_kept = models.PositiveIntegerField(_("kept by the undo"), default=0)

    objects = LeadImportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("lead import")
        verbose_name_plural = _("lead imports")
        indexes = [models.Index(fields=["store", "-created_at"], name="lead_import_store_idx")]

    def __str__(self):
        return f"{self.filename} ({self.created_at:%Y-%m-%d %H:%M})"

    @property
    def finished(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.FAILED, ImportStatus.CANCELLED)

    @property
    def progress(self) -> int:
        """Percent done."""
        return 100 if self.finished else min(99, self.percent)


# ---------------------------------------------------------------- inbound connectors


class ConnectorKind(models.TextChoices):
    """The shape of what a sender pushes (``leads.connectors``)."""

    GENERIC = "generic", _("Generic JSON")
    OCEAN_ENGINE = "ocean_engine", _("Ocean Engine clue push")


class LeadConnectorQuerySet(ScopedQuerySet):
    scope_paths = ScopePaths(store="store")


class LeadConnector(models.Model):
    """A portal, OEM system or ad platform that pushes leads to
    ``POST /api/v1/leads/inbound/<code>/``, signed with ``secret``."""

    store = models.ForeignKey(
        "dcc.Store", on_delete=models.CASCADE, related_name="+", verbose_name=_("store")
    )
    name = models.CharField(_("name"), max_length=100, validators=[no_control_characters])
    code = models.SlugField(_("code"), max_length=40, unique=True)
    kind = models.CharField(
        _("kind"), max_length=20, choices=ConnectorKind.choices, default=ConnectorKind.GENERIC
    )
    # The HMAC key: kept readable (a signature is checked with it), shown to
    # a person once, at creation or regeneration; never in a list or the API.
    secret = models.CharField(_("secret"), max_length=64)
    # The field map: an import profile's column mapping read against the
    # pushed field names (leads.importer.parse_record); empty: the kind's
    # built-in names and the header aliases.
    profile = models.ForeignKey(
        ImportProfile,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("field map (import profile)"),
    )
    replay_window = models.PositiveIntegerField(
        _("replay window (seconds)"),
        default=300,
        help_text=_("A push whose timestamp is further than this from now is refused."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    # Who set it up (or last issued its secret): the pushed leads are
    # entered in their name.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    secret_rotated_at = models.DateTimeField(_("secret issued at"), null=True, blank=True)

    objects = LeadConnectorQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("lead connector")
        verbose_name_plural = _("lead connectors")

    def __str__(self):
        return self.name


class ConnectorLead(models.Model):
    """The sender's lead id and the lead it became: the unique pair is what
    makes a retried push create nothing new, however many arrive at once."""

    connector = models.ForeignKey(
        LeadConnector, on_delete=models.CASCADE, related_name="+", verbose_name=_("connector")
    )
    external_id = models.CharField(_("sender's lead id"), max_length=100)
    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, null=True, related_name="+", verbose_name=_("lead")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("pushed lead")
        verbose_name_plural = _("pushed leads")
        constraints = [
            models.UniqueConstraint(fields=["connector", "external_id"], name="connector_lead_once")
        ]

    def __str__(self):
        return f"{self.external_id} → {self.lead_id}"


class PushOutcome(models.TextChoices):
    CREATED = "created", _("Created")
    REPEATED = "repeated", _("Already received")
    DUPLICATE = "duplicate", _("Open lead exists")
    INVALID = "invalid", _("Refused: invalid data")
    BAD_SIGNATURE = "bad_signature", _("Refused: bad signature")
    STALE = "stale", _("Refused: outside the replay window")


class ConnectorPushQuerySet(ScopedQuerySet):
    scope_paths = ScopePaths(store="connector__store")


class ConnectorPush(models.Model):
    """One push received and what came of it (the connector page)."""

    connector = models.ForeignKey(
        LeadConnector, on_delete=models.CASCADE, related_name="pushes", verbose_name=_("connector")
    )
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    external_id = models.CharField(_("sender's lead id"), max_length=100, blank=True)
    outcome = models.CharField(_("result"), max_length=20, choices=PushOutcome.choices)
    status_code = models.PositiveSmallIntegerField(_("HTTP status"))
    lead = models.ForeignKey(
        Lead,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("lead"),
    )
    # Per-field messages of a refused push ([{"field", "message"}]).
    errors = models.JSONField(_("errors"), default=list, blank=True)

    objects = ConnectorPushQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("connector push")
        verbose_name_plural = _("connector pushes")
        indexes = [
            models.Index(fields=["connector", "-received_at"], name="connector_push_recent_idx")
        ]

    def __str__(self):
        return f"{self.external_id or '—'}: {self.get_outcome_display()}"


# ---------------------------------------------------------------- distribution and the pool


class DistributionMethod(models.TextChoices):
    ROUND_ROBIN = "round_robin", _("Round robin")
    FEWEST_OPEN = "fewest_open", _("Fewest open leads")
    WEIGHTED = "weighted", _("Weighted")


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class DistributionRuleQuerySet(ScopedQuerySet):
    # A store's rules: its manager's (and the administrator's), nobody else's.
    scope_paths = ScopePaths(store="store")


class DistributionRule(models.Model):
    """One line of a store's distribution (leads.distribution): a lead that
    arrives without an owner and meets every condition set here goes to the
    team or the listed staff, by the method. Rules are tried by position;
    an empty condition matches anything."""

    store = models.ForeignKey(
        "dcc.Store", on_delete=models.CASCADE, related_name="+", verbose_name=_("store")
    )
    name = models.CharField(_("name"), max_length=100, validators=[no_control_characters])
    position = models.PositiveSmallIntegerField(_("order"), default=100)
    is_active = models.BooleanField(_("active"), default=True)
    # Conditions: lists of values (empty = any).
    sources = models.JSONField(_("sources"), default=list, blank=True)
    levels = models.JSONField(_("levels"), default=list, blank=True)
    weekdays = models.JSONField(_("days of the week"), default=list, blank=True)
    channels = models.ManyToManyField(
        Channel, blank=True, related_name="+", verbose_name=_("channels")
    )
    intended_models = models.ManyToManyField(
        VehicleModel, blank=True, related_name="+", verbose_name=_("intended models")
    )
    # The time of day a lead arrives, [from, until); until before from spans midnight.
    time_from = models.TimeField(_("arriving from"), null=True, blank=True)
    time_until = models.TimeField(_("arriving until"), null=True, blank=True)
    # Where the leads go: a team's members, or the listed staff.
    team = models.ForeignKey(
        "dcc.Team",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("team"),
    )
    method = models.CharField(
        _("method"),
        max_length=20,
        choices=DistributionMethod.choices,
        default=DistributionMethod.ROUND_ROBIN,
    )
    daily_cap = models.PositiveSmallIntegerField(
        _("at most per person per day"),
        null=True,
        blank=True,
        help_text=_("Leads given by rules today; empty for no limit."),
    )
    # Round robin's pointer: the last member of staff this rule gave a lead.
    last_staff_id = models.IntegerField(null=True, blank=True, verbose_name=_("last given to"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = DistributionRuleQuerySet.as_manager()

    class Meta:
        ordering = ["store", "position", "id"]
        verbose_name = _("distribution rule")
        verbose_name_plural = _("distribution rules")

    def __str__(self):
        return self.name


class DistributionTarget(models.Model):
    """A member of staff a rule gives leads to, with a weight (the weighted
    method gives in proportion; the others ignore it)."""

    rule = models.ForeignKey(
        DistributionRule, on_delete=models.CASCADE, related_name="targets", verbose_name=_("rule")
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("staff member"),
    )
    weight = models.PositiveSmallIntegerField(
        _("weight"), default=1, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )

    class Meta:
        ordering = ["rule", "staff"]
        verbose_name = _("distribution target")
        verbose_name_plural = _("distribution targets")
        constraints = [
            models.UniqueConstraint(fields=["rule", "staff"], name="distribution_target_once")
        ]

    def __str__(self):
        return f"{self.rule} → {self.staff} ×{self.weight}"


class PoolEventKind(models.TextChoices):
    POOLED = "pooled", _("Sent to the pool")
    CLAIMED = "claimed", _("Claimed")
    REDISTRIBUTED = "redistributed", _("Redistributed")


class PoolEventQuerySet(ScopedQuerySet):
    scope_paths = ScopePaths(store="store", team="staff__team", own="staff")


class PoolEvent(models.Model):
    """Every move into and out of the pool: the dashboard counts them and an
    agent's daily claim cap reads them (``leads.pool``)."""

    store = models.ForeignKey(
        "dcc.Store",
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("store"),
        db_index=False,
    )
    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, related_name="pool_events", verbose_name=_("lead")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=PoolEventKind.choices)
    # Pooled: the owner it was taken from; claimed or redistributed: the new owner.
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("staff member"),
        db_index=False,
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("by"),
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True, default="")
    # How long the lead waited in the pool (claimed, redistributed).
    waited_seconds = models.PositiveIntegerField(_("waited (seconds)"), null=True, blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    objects = PoolEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("pool event")
        verbose_name_plural = _("pool events")
        indexes = [
            models.Index(fields=["store", "kind", "created_at"], name="pool_event_store_idx"),
            models.Index(fields=["staff", "kind", "created_at"], name="pool_event_staff_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.lead_id}"
