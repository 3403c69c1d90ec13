"""The organisation core: stores, teams, staff and their roles (DESIGN §1).

Who may see which rows is decided in one place, ``dcc.policy``; every model
that holds scoped data uses ``ScopedQuerySet`` from there.
"""

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from dcc.policy import ScopedQuerySet, ScopePaths
from dcc.roles import Role
from dcc.validators import no_control_characters


class StoreQuerySet(ScopedQuerySet):
    scope_paths = ScopePaths(store="pk")

    def own_q(self, user):
        return Q(pk=user.store_id)  # everyone sees the store they work in


class Store(models.Model):
    """A 4S store (or a showroom of a dealer group)."""

    name = models.CharField(_("name"), max_length=100, validators=[no_control_characters])
    code = models.SlugField(_("code"), max_length=20, unique=True)
    # Local landlines arrive from the trunk without their area code
    # (TELEPHONY.md "Phone numbers"); this is what gets prepended.
    area_code = models.CharField(_("area code"), max_length=4, blank=True, default="")
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # Lead rules that are settings, not constants (DESIGN §2 "Rules with clocks").
    manufacturer_first_contact_hours = models.PositiveSmallIntegerField(
        _("first contact of manufacturer leads within (hours)"), default=48
    )
    transfer_first_contact_days = models.PositiveSmallIntegerField(
        _("first contact of transferred leads within (days)"), default=2
    )
    defeat_approval_required = models.BooleanField(
        _("defeats need a manager's approval"),
        default=False,
        help_text=_("When on, an agent's defeat is a request that a manager approves or rejects."),
    )

    history = HistoricalRecords()
    objects = StoreQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("store")
        verbose_name_plural = _("stores")

    def __str__(self):
        return self.name


class TeamQuerySet(ScopedQuerySet):
    scope_paths = ScopePaths(store="store", team="pk")

    def own_q(self, user):
        return Q(pk=user.team_id)  # and the team they belong to


class Team(models.Model):
    store = models.ForeignKey(
        Store, on_delete=models.PROTECT, related_name="teams", verbose_name=_("store")
    )
    name = models.CharField(_("name"), max_length=100, validators=[no_control_characters])
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()
    objects = TeamQuerySet.as_manager()

    class Meta:
        ordering = ["store", "name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        constraints = [
            models.UniqueConstraint(fields=["store", "name"], name="team_unique_name_per_store"),
        ]

    def __str__(self):
        return self.name


class StaffQuerySet(ScopedQuerySet):
    # Staff are a directory: everyone in a store sees its colleagues (an agent
    # picks the receiving consultant for a visit). Their *data* is scoped by
    # the models that hold it.
    def visible_to(self, user):
        if not getattr(user, "is_authenticated", False):
            return self.none()
        if user.sees_all_stores:
            return self
        return self.filter(store_id=user.store_id)

    def active(self):
        return self.filter(is_active=True)


class StaffManager(UserManager.from_queryset(StaffQuerySet)):
    pass


_ROLE_LABELS = dict(Role.choices)


class User(AbstractUser):
    """A member of staff. Logs in with ``username``; ``name`` is what people see."""

    name = models.CharField(
        _("full name"), max_length=100, blank=True, validators=[no_control_characters]
    )
    first_name = models.CharField(
        _("first name"), max_length=150, blank=True, validators=[no_control_characters]
    )
    last_name = models.CharField(
        _("last name"), max_length=150, blank=True, validators=[no_control_characters]
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.AGENT)
    store = models.ForeignKey(
        Store,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff",
        verbose_name=_("store"),
        help_text=_("Empty only for a group administrator, who sees every store."),
    )
    team = models.ForeignKey(
        Team,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
        verbose_name=_("team"),
    )
    extension = models.CharField(
        _("extension"),
        max_length=20,
        blank=True,
        default="",
        help_text=_("PBX extension, used to tie calls and recordings to this person."),
    )
    # For the booking SMS to the salesperson who receives an invited customer.
    mobile = models.CharField(_("mobile"), max_length=20, blank=True, default="")

    history = HistoricalRecords(excluded_fields=["password", "last_login"])
    objects = StaffManager()

    class Meta:
        ordering = ["store", "team", "username"]
        verbose_name = _("staff member")
        verbose_name_plural = _("staff")
        constraints = [
            # One extension rings one active person in a store at a time; the
            # telephony app keeps the history of who had which extension when.
            models.UniqueConstraint(
                fields=["store", "extension"],
                condition=~Q(extension="") & Q(is_active=True),
                name="staff_unique_active_extension_per_store",
            ),
        ]

    def __str__(self):
        return self.name or self.username

    @property
    def display_name(self):
        return self.name or self.get_full_name() or self.username

    def get_role_display(self) -> str:
        """The role's label. Django's own hashes every choice's lazy label,
        translating each, on every call: a staff list (the receivers of a
        follow-up form, some 150 options) paid that per row."""
        label = _ROLE_LABELS.get(self.role)
        return self.role if label is None else str(label)

    @property
    def effective_role(self):
        """A Django superuser acts as a group administrator (API.md "Auth")."""
        return Role.ADMIN if self.is_superuser else self.role

    @property
    def sees_all_stores(self):
        return self.effective_role == Role.ADMIN and (self.is_superuser or self.store_id is None)

    def clean(self):
        super().clean()
        if self.role != Role.ADMIN and not self.store_id and not self.is_superuser:
            raise ValidationError(
                {"store": _("Every role except administrator belongs to a store.")}
            )
        if self.team_id and self.store_id and self.team.store_id != self.store_id:
            raise ValidationError({"team": _("The team belongs to another store.")})
        if self.role == Role.SUPERVISOR and not self.team_id:
            raise ValidationError({"team": _("A supervisor leads a team: choose one.")})


class AbsenceQuerySet(ScopedQuerySet):
    scope_paths = ScopePaths(store="staff__store", team="staff__team", own="staff")

    def absent_ids(self, staff_ids, day) -> set[int]:
        """Which of ``staff_ids`` are marked absent on ``day`` (one query):
        what every assignment skips (bulk assignment, distribution rules)."""
        return set(self.filter(staff_id__in=staff_ids, date=day).values_list("staff_id", flat=True))


class Absence(models.Model):
    """A staff member marked absent for a day: round-robin assignment skips
    them (a known complaint about other CRMs' round robin)."""

    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="absences",
        verbose_name=_("staff member"),
    )
    date = models.DateField(_("date"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AbsenceQuerySet.as_manager()

    class Meta:
        verbose_name = _("absence")
        verbose_name_plural = _("absences")
        constraints = [
            models.UniqueConstraint(fields=["staff", "date"], name="absence_once_per_day"),
        ]

    def __str__(self):
        return f"{self.staff} {self.date}"


class AuditEventQuerySet(ScopedQuerySet):
    scope_paths = ScopePaths(store="store", team="actor__team", own="actor")


class AuditEvent(models.Model):
    """What history rows cannot say on their own: an attempt that changed
    nothing (a duplicate lead entry), a reassignment's reason, a recording
    played. Names are dotted: ``leads.lead.assigned``."""

    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    name = models.CharField(_("event"), max_length=100, db_index=True)
    store = models.ForeignKey(
        Store,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("store"),
    )
    target_type = models.ForeignKey(
        ContentType,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("target type"),
    )
    target_id = models.BigIntegerField(null=True, blank=True, verbose_name=_("target id"))
    target = GenericForeignKey("target_type", "target_id")
    data = models.JSONField(_("details"), default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [
            # The timeline of one object (a lead's page) reads by target.
            models.Index(
                fields=["target_type", "target_id", "created_at"], name="audit_target_idx"
            ),
        ]

    def __str__(self):
        return self.name


class Heartbeat(models.Model):
    """Last time a Celery process showed it was alive; shown to administrators."""

    name = models.CharField(max_length=50, primary_key=True, verbose_name=_("name"))
    seen_at = models.DateTimeField(verbose_name=_("seen at"))

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")

    def __str__(self):
        return f"{self.name} @ {self.seen_at:%Y-%m-%d %H:%M:%S}"


class TokenUse(models.Model):
    """When an API token was last used: one unused for too long is refused
    (dcc.auth.ExpiringTokenAuthentication). Written at most once every few
    minutes, so that API calls do not each write a row."""

    token = models.OneToOneField(
        "authtoken.Token", on_delete=models.CASCADE, primary_key=True, related_name="use"
    )
    last_used_at = models.DateTimeField(_("last used at"))

    class Meta:
        verbose_name = _("API token use")
        verbose_name_plural = _("API token uses")

    def __str__(self):
        return f"{self.token_id[:6]}… @ {self.last_used_at:%Y-%m-%d %H:%M}"
