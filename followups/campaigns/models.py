"""Segments, campaigns, their members and SMS rounds (issue 18).

Rules live in ``followups.campaigns.services`` (and ``segments`` for the
filters); this module holds data and the constraints that are the final
arbiter: one member per customer and campaign, one round per number.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from dcc.policy import ScopedQuerySet, ScopePaths
from dcc.validators import no_control_characters
from leads import phones


class SegmentQuerySet(ScopedQuerySet):
    scope_paths = ScopePaths(store="store", own="created_by")


class Segment(models.Model):
    """A saved set of filters on the store's owners (``segments.customers``)."""

    store = models.ForeignKey(
        "dcc.Store", on_delete=models.CASCADE, related_name="+", verbose_name=_("store")
    )
    name = models.CharField(_("name"), max_length=100, validators=[no_control_characters])
    # See followups.campaigns.segments.FILTERS for the keys.
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = SegmentQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        constraints = [
            models.UniqueConstraint(fields=["store", "name"], name="segment_name_unique")
        ]

    def __str__(self):
        return self.name


class CampaignKind(models.TextChoices):
    REPURCHASE = "repurchase", _("Base-customer repurchase")
    EVENT = "event", _("Market event")
    OTHER = "other", _("Other")


class CallTarget(models.TextChoices):
    NON_REPLIERS = "non_repliers", _("Members who did not reply")
    ALL = "all", _("All members")
    GROUP = "group", _("A chosen group")


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    LAUNCHED = "launched", _("Launched")
    CLOSED = "closed", _("Closed")


class CampaignQuerySet(ScopedQuerySet):
    scope_paths = ScopePaths(store="store", team="team", own="created_by")

    def own_q(self, user):
        """A caller's own campaigns: those they created or call members of."""
        return super().own_q(user) | Q(
            pk__in=CampaignMember.objects.filter(caller=user).values("campaign_id")
        )

    def with_member_count(self):
        """Each campaign's number of members as ``member_count``, in the
        same query (the list page and the API list many campaigns)."""
        return self.annotate(member_count=models.Count("members"))


class Campaign(models.Model):
    store = models.ForeignKey(
        "dcc.Store", on_delete=models.PROTECT, related_name="+", verbose_name=_("store")
    )
    team = models.ForeignKey(
        "dcc.Team",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("owning team"),
    )
    name = models.CharField(_("name"), max_length=100, validators=[no_control_characters])
    kind = models.CharField(
        _("kind"), max_length=20, choices=CampaignKind.choices, default=CampaignKind.REPURCHASE
    )
    promoted_models = models.ManyToManyField(
        "leads.VehicleModel", blank=True, related_name="+", verbose_name=_("promoted series")
    )
    starts_on = models.DateField(_("starts on"), null=True, blank=True)
    ends_on = models.DateField(_("ends on"), null=True, blank=True)
    segment = models.ForeignKey(
        Segment,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="campaigns",
        verbose_name=_("target segment"),
    )
    # Mainland SMS is template-only (TELEPHONY.md): the provider's approved
    # template id and the names of its parameters, in order
    # (followups.campaigns.services.PARAM_SOURCES).
    sms_template_id = models.CharField(
        _("SMS template id"), max_length=30, blank=True, validators=[no_control_characters]
    )
    sms_params = models.JSONField(_("SMS template parameters"), default=list, blank=True)
    call_script = models.TextField(_("call script"), blank=True)
    call_delay_hours = models.PositiveSmallIntegerField(_("call delay (hours)"), default=48)
    call_target = models.CharField(
        _("who is called"),
        max_length=20,
        choices=CallTarget.choices,
        default=CallTarget.NON_REPLIERS,
    )
    attempt_cap = models.PositiveSmallIntegerField(_("call attempt cap"), default=3)
    status = models.CharField(
        _("status"), max_length=20, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    launched_at = models.DateTimeField(_("launched at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")

    def __str__(self):
        return self.name


class CallOutcome(models.TextChoices):
    NONE = "", _("Not called yet")
    INTERESTED = "interested", _("Interested")
    NOT_INTERESTED = "not_interested", _("Not interested")
    OPT_OUT = "opt_out", _("Opted out")
    WRONG_NUMBER = "wrong_number", _("Wrong number")
    UNREACHABLE = "unreachable", _("Unreachable")


class CampaignMemberQuerySet(ScopedQuerySet):
    scope_paths = ScopePaths(store="campaign__store", team="campaign__team", own="caller")


class CampaignMember(models.Model):
    """A customer of the campaign, frozen at launch (number and vehicle as
    they were then)."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="members", verbose_name=_("campaign")
    )
    customer = models.ForeignKey(
        "leads.Customer", on_delete=models.PROTECT, related_name="+", verbose_name=_("customer")
    )
    phone = models.CharField(_("phone"), max_length=20)
    vehicle = models.ForeignKey(
        "leads.OwnedVehicle",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("vehicle"),
    )
    # The first round's message (later rounds: CampaignRound + the key).
    sms = models.ForeignKey(
        "followups.SmsMessage",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("SMS message"),
    )
    replied_at = models.DateTimeField(_("replied at"), null=True, blank=True)
    reply_text = models.TextField(_("reply"), blank=True)
    opted_out_at = models.DateTimeField(_("opted out at"), null=True, blank=True)
    caller = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("caller"),
    )
    call_due_at = models.DateTimeField(_("call due at"), null=True, blank=True)
    call_attempts = models.PositiveSmallIntegerField(_("call attempts"), default=0)
    call_outcome = models.CharField(
        _("call outcome"),
        max_length=20,
        choices=CallOutcome.choices,
        blank=True,
        default=CallOutcome.NONE,
    )
    outcome_at = models.DateTimeField(_("outcome at"), null=True, blank=True)
    lead = models.ForeignKey(
        "leads.Lead",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("lead"),
    )
    invited = models.BooleanField(_("invited"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = CampaignMemberQuerySet.as_manager()

    class Meta:
        ordering = ["campaign", "id"]
        verbose_name = _("campaign member")
        verbose_name_plural = _("campaign members")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "customer"], name="campaign_member_unique")
        ]
        indexes = [
            # A reply finds the members of its number.
            models.Index(fields=["phone"], name="campaign_member_phone_idx"),
            # A caller's list (followups.campaigns by h18b).
            models.Index(
                fields=["caller", "call_due_at"],
                condition=Q(caller__isnull=False),
                name="campaign_member_caller_idx",
            ),
        ]

    def __str__(self):
        return f"{self.campaign_id}: {self.customer_id}"

    @property
    def phone_display(self):
        return phones.display(self.phone)

    @property
    def phone_masked(self):
        return phones.masked(self.phone)


class RoundStatus(models.TextChoices):
    PLANNING = "planning", _("Planning")
    PLANNED = "planned", _("Planned")
    DISPATCHING = "dispatching", _("Sending")
    DONE = "done", _("Sent")


class CampaignRoundQuerySet(ScopedQuerySet):
    scope_paths = ScopePaths(
        store="campaign__store", team="campaign__team", own="campaign__created_by"
    )


class CampaignRound(models.Model):
    """One SMS round of a campaign: one outbox message per member, its
    idempotency key ``campaign:<id>:round:<n>:member:<member id>``."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="rounds", verbose_name=_("campaign")
    )
    number = models.PositiveSmallIntegerField(_("number"))
    planned_at = models.DateTimeField(_("planned at"), null=True, blank=True)
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=RoundStatus.choices, default=RoundStatus.PLANNING
    )
    # How many messages planning wrote, and how many members it skipped
    # (opted out since launch).
    planned_count = models.PositiveIntegerField(_("messages planned"), default=0)
    skipped_count = models.PositiveIntegerField(_("members skipped"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = CampaignRoundQuerySet.as_manager()

    class Meta:
        ordering = ["campaign", "number"]
        verbose_name = _("campaign round")
        verbose_name_plural = _("campaign rounds")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "number"], name="campaign_round_unique")
        ]

    def __str__(self):
        return f"{self.campaign} #{self.number}"

    def idempotency_key(self, member_id: int) -> str:
        return key(self.campaign_id, self.number, member_id)


def key(campaign_id: int, number: int, member_id: int) -> str:
    """The outbox key of one member's message of one round."""
    return f"campaign:{campaign_id}:round:{number}:member:{member_id}"


# The calls, events and invitations (h18b): a module of their own, imported
# here so that they belong to this app.
from followups.campaigns.models_outreach import (  # noqa: E402, F401
    CallResult,
    CampaignCall,
    CampaignEvent,
    EventInvitation,
    Rsvp,
)
