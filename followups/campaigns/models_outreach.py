"""What callers and event staff do with a campaign (issue 18, points 5 and 6):
the calls of its call list, its events, and the invitations to them.

Imported by ``followups.campaigns.models`` so that the models belong to the
``campaigns`` app."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from dcc.policy import ScopedQuerySet, ScopePaths, can, scope_level
from dcc.validators import no_control_characters


class CallResult(models.TextChoices):
    """What one call of a campaign's call list came to. Every outcome but
    "no answer" means the customer was reached (the funnel's "reached")."""

    NO_ANSWER = "no_answer", _("No answer")
    INTERESTED = "interested", _("Interested")
    NOT_INTERESTED = "not_interested", _("Not interested")
    OPT_OUT = "opt_out", _("Opt-out: never message again")
    WRONG_NUMBER = "wrong_number", _("Wrong number")


REACHED_OUTCOMES = (
    CallResult.INTERESTED,
    CallResult.NOT_INTERESTED,
    CallResult.OPT_OUT,
    CallResult.WRONG_NUMBER,
)


class CampaignCallQuerySet(ScopedQuerySet):
    scope_paths = ScopePaths(store="member__campaign__store", team="caller__team", own="caller")


class CampaignCall(models.Model):
    """One call to a campaign member by a caller, whatever it came to."""

    member = models.ForeignKey(
        "campaigns.CampaignMember",
        on_delete=models.CASCADE,
        related_name="calls",
        verbose_name=_("campaign member"),
    )
    caller = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("caller"),
    )
    called_at = models.DateTimeField(_("called at"))
    outcome = models.CharField(_("outcome"), max_length=20, choices=CallResult.choices)
    note = models.TextField(_("note"), blank=True, default="", validators=[no_control_characters])
    # The follow-up logged on the lead the call created (interested), if any.
    followup = models.ForeignKey(
        "followups.FollowUp",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("follow-up"),
    )

    objects = CampaignCallQuerySet.as_manager()

    class Meta:
        ordering = ["-called_at", "-id"]
        verbose_name = _("campaign call")
        verbose_name_plural = _("campaign calls")

    def __str__(self):
        return f"{self.member_id}: {self.outcome}"

    @property
    def reached(self) -> bool:
        return self.outcome in REACHED_OUTCOMES


class StoreWideQuerySet(ScopedQuerySet):
    """A store's events: everyone of the store sees them (agents invite to
    them, the door checks in), an administrator of the group every store's."""

    scope_paths = ScopePaths(store="store")

    def visible_to(self, user):
        if scope_level(user) is None:
            return self.none()
        if user.sees_all_stores:
            return self.all()
        return self.filter(store_id=user.store_id) if user.store_id else self.none()


class CampaignEvent(models.Model):
    """A roadshow or store event customers are invited to."""

    store = models.ForeignKey(
        "dcc.Store", on_delete=models.PROTECT, related_name="+", verbose_name=_("store")
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="events",
        verbose_name=_("campaign"),
    )
    name = models.CharField(_("name"), max_length=100, validators=[no_control_characters])
    starts_at = models.DateTimeField(_("starts at"))
    place = models.CharField(_("place"), max_length=200, validators=[no_control_characters])
    capacity = models.PositiveIntegerField(_("capacity"))
    # The reminder is template-only (TELEPHONY.md): the provider's template
    # id; its parameters are, in order, the customer's name, the event's
    # name, its time and its place.
    sms_template_id = models.CharField(
        _("reminder template id"), max_length=30, blank=True, default=""
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = StoreWideQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at", "-id"]
        verbose_name = _("event")
        verbose_name_plural = _("events")

    def __str__(self):
        return self.name


class Rsvp(models.TextChoices):
    YES = "yes", _("Coming")
    MAYBE = "maybe", _("Maybe")
    NO = "no", _("Not coming")


class EventInvitationQuerySet(ScopedQuerySet):
    scope_paths = ScopePaths(store="event__store", team="invited_by__team", own="invited_by")

    def visible_to(self, user):
        # The staff at the door check in every guest of their store's events.
        if can(user, "campaigns.events.checkin") and not user.sees_all_stores:
            if scope_level(user) is None or not user.store_id:
                return self.none()
            return self.filter(event__store_id=user.store_id)
        return super().visible_to(user)

    def own_q(self, user) -> Q:
        # The owner of the invited lead follows the guest up too.
        return Q(invited_by=user) | Q(lead__owner=user)


class EventInvitation(models.Model):
    """A customer invited to an event, their answer and their arrival."""

    event = models.ForeignKey(
        CampaignEvent,
        on_delete=models.CASCADE,
        related_name="invitations",
        verbose_name=_("event"),
    )
    customer = models.ForeignKey(
        "leads.Customer", on_delete=models.PROTECT, related_name="+", verbose_name=_("customer")
    )
    phone = models.CharField(_("phone"), max_length=20)
    lead = models.ForeignKey(
        "leads.Lead",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("lead"),
    )
    member = models.ForeignKey(
        "campaigns.CampaignMember",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="invitations",
        verbose_name=_("campaign member"),
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("invited by"),
    )
    invited_at = models.DateTimeField(_("invited at"))
    rsvp = models.CharField(_("answer"), max_length=10, choices=Rsvp.choices)
    reminder_sms = models.ForeignKey(
        "followups.SmsMessage",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reminder SMS"),
    )
    checked_in_at = models.DateTimeField(_("checked in at"), null=True, blank=True)
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("checked in by"),
    )

    objects = EventInvitationQuerySet.as_manager()

    class Meta:
        ordering = ["event", "id"]
        verbose_name = _("event invitation")
        verbose_name_plural = _("event invitations")
        constraints = [
            models.UniqueConstraint(fields=["event", "customer"], name="event_invitation_once")
        ]

    def __str__(self):
        return f"{self.event_id}: {self.customer_id}"
