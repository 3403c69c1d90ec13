"""Forms of the follow-up pages: input shapes only.

The rules (back-entry, cadence, what a result does to the lead, who may book
for whom) live in ``followups.services``; a view hands ``service_kwargs()`` to
one service and turns its ``ValidationError`` into field errors. The same
forms serve the call queue's work panel and the lead page's action tabs.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from dcc.models import User
from dcc.roles import Role
from followups.models import Channel, FollowupPolicy, Purpose, Result, VisitType
from followups.services import POLICY_FIELDS, STORE_RULE_FIELDS
from leads.forms import DateTimeLocalInput, LeadActionForm, StaffChoiceField
from leads.models import DefeatReason, InvalidReason, Level

# Results a telesales agent picks most, in the order of the keyboard keys 1–6.
RESULT_ORDER = [
    Result.REACHED,
    Result.NO_ANSWER,
    Result.INVITED,
    Result.REFUSED,
    Result.DEFEATED,
    Result.INVALID,
]


# Who may receive a visit: showroom consultants, DCC agents (mode two's
# receiving agent, or the booking agent receiving their own customer) and
# managers, who sometimes receive VIPs themselves.
RECEIVER_ROLES = (Role.CONSULTANT, Role.AGENT, Role.MANAGER)


def receiver_choices(store):
    """Who receives a booked visit: the store's active RECEIVER_ROLES."""
    return (
        User.objects.filter(store=store, is_active=True)
        .filter(role__in=RECEIVER_ROLES)
        .order_by("role", "name", "username")
    )


class ReceiverChoiceField(StaffChoiceField):
    """A receiver without a mobile gets no booking SMS: the choice says so."""

    def label_from_instance(self, obj):
        label = super().label_from_instance(obj)
        if not obj.mobile:
            warning = _("no mobile: gets no SMS")
            label = f"{label} ⚠ {warning}"
        return label


def _receiver_help(field: forms.Field, lead) -> None:
    from followups.services import hands_over

    if hands_over(lead):
        field.required = True
        field.help_text = _(
            "Mode two: the DCC agent you choose receives the customer and takes over the lead; "
            "you keep the invitation."
        )


def _fixed_choices(field: forms.ModelChoiceField, queryset) -> None:
    """The field's queryset (what it accepts) and its choices read once, in
    one plain query: a ModelChoiceField otherwise iterates a server-side
    cursor each time it renders, on the agents' busiest page."""
    field.queryset = queryset
    choices = [(obj.pk, field.label_from_instance(obj)) for obj in queryset]
    field.choices = (
        [("", field.empty_label), *choices] if field.empty_label is not None else choices
    )


class FollowupForm(LeadActionForm):
    """One logged contact. The result is the one thing always asked; the
    appointment, defeat and invalid blocks show for their result only."""

    prefix_name = "followup"
    result = forms.ChoiceField(
        label=_("Result"),
        choices=[(value, Result(value).label) for value in RESULT_ORDER],
        widget=forms.RadioSelect,
    )
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices, initial=Channel.CALL)
    purpose = forms.ChoiceField(label=_("Purpose"), choices=Purpose.choices, initial=Purpose.OTHER)
    level = forms.ChoiceField(label=_("Level"), choices=Level.choices)
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    next_followup_at = forms.DateTimeField(
        label=_("Next follow-up"), required=False, widget=DateTimeLocalInput()
    )
    occurred_at = forms.DateTimeField(
        label=_("Contact time"),
        required=False,
        widget=DateTimeLocalInput(),
        help_text=_("Empty: now. You may enter a contact made earlier today."),
    )
    scheduled_at = forms.DateTimeField(
        label=_("Visit time"), required=False, widget=DateTimeLocalInput()
    )
    receiver = ReceiverChoiceField(
        label=_("Receiving salesperson"), queryset=User.objects.none(), required=False
    )
    visit_type = forms.ChoiceField(
        label=_("The customer comes to"),
        choices=[("", _("(from the purpose)")), *VisitType.choices],
        required=False,
        help_text=_("Named so in the customer's SMS."),
    )
    defeat_reason = forms.ModelChoiceField(
        label=_("Defeat reason"), queryset=DefeatReason.objects.none(), required=False
    )
    recontact_at = forms.DateTimeField(
        label=_("Re-contact on"),
        required=False,
        widget=DateTimeLocalInput(),
        help_text=_("Optional: the lead comes back to your queue then, still defeated."),
    )
    invalid_reason = forms.ChoiceField(
        label=_("Why invalid"), choices=InvalidReason.choices, required=False
    )

    # Which fields belong to which result (the template and queue.js read it).
    RESULT_FIELDS = {
        "scheduled_at": Result.INVITED,
        "receiver": Result.INVITED,
        "visit_type": Result.INVITED,
        "defeat_reason": Result.DEFEATED,
        "recontact_at": Result.DEFEATED,
        "invalid_reason": Result.INVALID,
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        lead = self.lead
        self.fields["level"].initial = lead.level
        _fixed_choices(self.fields["receiver"], receiver_choices(lead.store))
        _receiver_help(self.fields["receiver"], lead)
        self.fields["receiver"].required = False  # asked only with an invitation
        _fixed_choices(self.fields["defeat_reason"], DefeatReason.objects.for_store(lead.store))
        policy = FollowupPolicy.objects.for_store(lead.store)
        self.fields["next_followup_at"].help_text = _(
            "Empty: by the level's cadence (H %(h)s, A %(a)s, B %(b)s, C %(c)s days)."
        ) % {
            "h": policy.cadence_h_days,
            "a": policy.cadence_a_days,
            "b": policy.cadence_b_days,
            "c": policy.cadence_c_days,
        }
        for name, result in self.RESULT_FIELDS.items():
            self.fields[name].widget.attrs["data-for-result"] = result

    def clean(self):
        data = super().clean()
        result = data.get("result")
        # The form asks for a visit time with an invitation: an invitation
        # without a time is not a booking anyone can confirm (the API allows
        # it and leaves the lead "invited").
        if result == Result.INVITED and not data.get("scheduled_at"):
            self.add_error("scheduled_at", _("When will the customer come?"))
        return data

    def service_kwargs(self) -> dict:
        return self.kwargs_from(self.cleaned_data)

    @staticmethod
    def kwargs_from(data: dict) -> dict:
        """``followup_log`` keyword arguments from cleaned data."""
        kwargs = {
            "channel": data["channel"],
            "result": data["result"],
            "purpose": data["purpose"],
            "note": data["note"],
            "occurred_at": data.get("occurred_at"),
            "next_followup_at": data.get("next_followup_at"),
            "level": data["level"],
        }
        if data["result"] == Result.INVITED:
            kwargs["appointment"] = {
                "scheduled_at": data["scheduled_at"],
                "receiver": data.get("receiver"),
                "visit_type": data.get("visit_type") or "",
            }
        elif data["result"] == Result.DEFEATED:
            kwargs["defeat_reason"] = data.get("defeat_reason")
            kwargs["recontact_at"] = data.get("recontact_at")
        elif data["result"] == Result.INVALID:
            kwargs["invalid_reason"] = data.get("invalid_reason") or "other"
        return kwargs


class ReceiverNoteFields(LeadActionForm):
    """Who receives the customer in the showroom, and a note: a booked or a
    walk-in visit alike."""

    receiver = ReceiverChoiceField(
        label=_("Receiving salesperson"), queryset=User.objects.none(), required=False
    )
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["receiver"].queryset = receiver_choices(self.lead.store)
        if isinstance(self, AppointmentBookForm):
            _receiver_help(self.fields["receiver"], self.lead)


class AppointmentBookForm(ReceiverNoteFields):
    prefix_name = "book"
    scheduled_at = forms.DateTimeField(label=_("Visit time"), widget=DateTimeLocalInput())
    visit_type = forms.ChoiceField(
        label=_("The customer comes to"),
        choices=VisitType.choices,
        initial=VisitType.TEST_DRIVE,
        required=False,  # the service derives it from the purpose
        help_text=_("Named so in the customer's SMS."),
    )
    purpose = forms.ChoiceField(
        label=_("Purpose"), choices=Purpose.choices, initial=Purpose.TEST_DRIVE
    )
    field_order = ["scheduled_at", "visit_type", "purpose", "receiver", "note"]


class AppointmentForm(forms.Form):
    """Base of the forms acting on one appointment."""

    success_css_class = ""

    def __init__(self, *args, appointment, user, **kwargs):
        kwargs.setdefault("prefix", f"appt{appointment.pk}")
        super().__init__(*args, **kwargs)
        self.appointment = appointment
        self.user = user


class ConfirmForm(AppointmentForm):
    pass


class NoShowForm(AppointmentForm):
    pass


class RescheduleForm(AppointmentForm):
    scheduled_at = forms.DateTimeField(label=_("New time"), widget=DateTimeLocalInput())
    reason = forms.CharField(label=_("Reason (optional)"), required=False, max_length=200)


class CancelForm(AppointmentForm):
    reason = forms.CharField(label=_("Reason (optional)"), required=False, max_length=200)


class VisitOutcomeFields(forms.Form):
    """What is recorded of a visit, booked or not."""

    arrived_at = forms.DateTimeField(
        label=_("Arrived at"),
        required=False,
        widget=DateTimeLocalInput(),
        help_text=_("Empty: now."),
    )
    test_drive = forms.BooleanField(label=_("Test drive"), required=False)
    group_size = forms.IntegerField(label=_("Group size"), min_value=1, initial=1)


class ArriveForm(VisitOutcomeFields, AppointmentForm):
    pass


class VisitForm(VisitOutcomeFields, ReceiverNoteFields):
    """A visit without a booking (walk-in or came back by themselves)."""

    prefix_name = "visit"
    field_order = ["arrived_at", "test_drive", "group_size", "receiver", "note"]


# ---------------------------------------------------------------- store rules


class StoreRulesForm(forms.ModelForm):
    """The store's rules with clocks (dcc.Store): input only, saved by
    ``services.store_rules_update``."""

    success_css_class = ""

    class Meta:
        from dcc.models import Store

        model = Store
        fields = list(STORE_RULE_FIELDS)


class PolicyForm(forms.ModelForm):
    success_css_class = ""

    class Meta:
        model = FollowupPolicy
        fields = list(POLICY_FIELDS)
        widgets = {
            "reminder_hour": forms.NumberInput(attrs={"min": 0, "max": 23}),
        }

    # Left empty (or not sent by an older form), the pool's numbers keep
    # their value.
    KEPT_WHEN_EMPTY = ("pool_after_unanswered", "pool_overdue_days", "pool_claims_per_day")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.KEPT_WHEN_EMPTY:
            self.fields[name].required = False

    def clean(self):
        data = super().clean()
        for name in self.KEPT_WHEN_EMPTY:
            if data.get(name) is None and name not in self.errors:
                data[name] = getattr(self.instance, name)
        return data
