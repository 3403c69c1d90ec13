"""Forms of the lead pages: input shapes only.

Every rule (phone validity, back-dating, who may own a lead, mandatory
reasons, transitions) lives in ``leads.services``; a view passes the cleaned
data to one service and turns its ``ValidationError`` into field errors with
``add_service_errors``. Choice lists are filled from the user's scope so that
a select never offers what the service would refuse for scope reasons; the
service still checks everything.
"""

from __future__ import annotations

import json

from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from dcc.forms import PlainSelect
from dcc.models import Store, Team, User
from dcc.policy import LEAD_OWNER_ROLES, can
from dcc.roles import Role
from leads.models import (
    Channel,
    DefeatReason,
    DistributionMethod,
    InvalidReason,
    Lead,
    Level,
    Source,
    VehicleModel,
    Weekday,
)

# Staff the assignment page hands leads to (DESIGN §1: the DCC room).
DCC_ROLES = (Role.AGENT, Role.CALLER)

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form: per field where the form
    has that field, else as a non-field error."""
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def local_now_input() -> str:
    """Now, as a ``datetime-local`` input shows it (local time, minutes)."""
    return timezone.localtime().strftime(DATETIME_LOCAL)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format=DATETIME_LOCAL)


class IdListField(forms.Field):
    """Lead ids ticked in a list. Not checked against a queryset on purpose:
    a lead someone else took meanwhile must reach the service, which reports
    it as skipped rather than failing the whole form."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        if not value:
            return []
        if isinstance(value, str):
            value = [value]
        try:
            return sorted({int(item) for item in value})
        except (TypeError, ValueError) as exc:
            raise ValidationError(_("Invalid selection."), code="invalid") from exc


class StaffChoiceField(forms.ModelChoiceField):
    widget = PlainSelect  # a store's staff: many options

    def label_from_instance(self, obj):
        label = f"{obj.display_name} · {obj.get_role_display()}"
        return label if obj.is_active else f"{label} ({_('inactive')})"


class StaffMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return obj.display_name


def owner_choices(store: Store | None, user):
    """Active staff of ``store`` whose role may own a lead (the service decides)."""
    staff = User.objects.visible_to(user).active().filter(role__in=LEAD_OWNER_ROLES)
    if store is not None:
        staff = staff.filter(store=store)
    return staff.order_by("role", "name", "username")


def required_attr(field: forms.Field) -> forms.Field:
    """Marked required in the browser only: the server-side rule (a reason is
    mandatory, DESIGN §2) belongs to the service, which reports it per field."""
    field.widget.attrs["required"] = True
    return field


# ---------------------------------------------------------------- new lead


class LeadCreateForm(forms.Form):
    # django-bootstrap5: no green "valid" marks on the fields of a refused form.
    success_css_class = ""
    store = forms.ModelChoiceField(label=_("Store"), queryset=Store.objects.none())
    name = forms.CharField(label=_("Customer name"), max_length=50)
    phone = forms.CharField(
        label=_("Phone"),
        max_length=40,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    source = forms.ChoiceField(label=_("Source"), choices=Source.choices, initial=Source.INBOUND)
    channel = forms.ModelChoiceField(
        label=_("Channel"), queryset=Channel.objects.filter(is_active=True), required=False
    )
    intended_model = forms.ModelChoiceField(
        label=_("Intended model"),
        queryset=VehicleModel.objects.filter(is_active=True),
        required=False,
    )
    level = forms.ChoiceField(label=_("Level"), choices=Level.choices, initial=Level.B)
    expected_purchase_date = forms.DateField(
        label=_("Expected purchase date"), required=False, widget=DateInput()
    )
    received_at = forms.DateTimeField(
        label=_("Received at"), required=False, widget=DateTimeLocalInput()
    )
    owner = StaffChoiceField(
        label=_("Owner"),
        queryset=User.objects.none(),
        required=False,
        empty_label=_("— unassigned —"),
    )
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    handover_consultant = StaffChoiceField(
        label=_("Showroom consultant"), queryset=User.objects.none(), required=False
    )
    handover_visit_date = forms.DateField(
        label=_("Showroom visit date"), required=False, widget=DateInput()
    )
    handover_defeat_reason = forms.CharField(
        label=_("Showroom defeat reason"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    HANDOVER_FIELDS = ("handover_consultant", "handover_visit_date", "handover_defeat_reason")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["name"].widget.attrs["autofocus"] = True
        self.fields["received_at"].initial = local_now_input
        staff = User.objects.visible_to(user).active()
        if user.store_id:
            del self.fields["store"]
            staff = staff.filter(store_id=user.store_id)
        else:  # a group administrator enters the lead for a store
            self.fields["store"].queryset = Store.objects.visible_to(user).filter(is_active=True)
        if can(user, "leads.assign"):
            self.fields["owner"].queryset = staff.filter(role__in=LEAD_OWNER_ROLES).order_by(
                "role", "name"
            )
        else:  # agents own what they enter ("first entry wins")
            del self.fields["owner"]
        self.fields["handover_consultant"].queryset = staff.filter(role=Role.CONSULTANT).order_by(
            "name"
        )

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        data["store"] = data.get("store") or self.user.store
        if data["source"] != Source.LOW_INTENT:
            # The handover block is hidden for other sources; ignore leftovers.
            for name in self.HANDOVER_FIELDS:
                data.pop(name, None)
        data["received_at"] = data.get("received_at") or None
        return data


# ---------------------------------------------------------------- lead actions


class LeadActionForm(forms.Form):
    """Every action form is built with the lead and the acting user."""

    success_css_class = ""

    def __init__(self, *args, lead, user, **kwargs):
        kwargs.setdefault("prefix", self.prefix_name)
        super().__init__(*args, **kwargs)
        self.lead = lead
        self.user = user

    prefix_name = ""


class LevelForm(LeadActionForm):
    prefix_name = "level"
    level = forms.ChoiceField(label=_("Level"), choices=Level.choices)
    reason = forms.CharField(label=_("Reason (optional)"), required=False, max_length=200)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["level"].initial = self.lead.level


class LeadEditForm(LeadActionForm):
    prefix_name = "edit"
    name = forms.CharField(label=_("Customer name"), max_length=50)
    intended_model = forms.ModelChoiceField(
        label=_("Intended model"),
        queryset=VehicleModel.objects.filter(is_active=True),
        required=False,
    )
    channel = forms.ModelChoiceField(
        label=_("Channel"), queryset=Channel.objects.filter(is_active=True), required=False
    )
    expected_purchase_date = forms.DateField(
        label=_("Expected purchase date"), required=False, widget=DateInput()
    )
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        lead = self.lead
        self.initial.update(
            name=lead.customer.name,
            intended_model=lead.intended_model_id,
            channel=lead.channel_id,
            expected_purchase_date=lead.expected_purchase_date,
            note=lead.note,
        )


class DefeatForm(LeadActionForm):
    prefix_name = "defeat"
    reason = forms.ModelChoiceField(label=_("Defeat reason"), queryset=DefeatReason.objects.none())
    recontact_at = forms.DateTimeField(
        label=_("Re-contact on"),
        required=False,
        widget=DateTimeLocalInput(),
        help_text=_("Optional: the lead comes back to your queue then, still defeated."),
    )
    note = forms.CharField(
        label=_("Background"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].queryset = DefeatReason.objects.for_store(self.lead.store)


class ReferrerForm(LeadActionForm):
    prefix_name = "referrer"
    phone = forms.CharField(
        label=_("Referred by (phone of a customer who bought)"),
        required=False,
        max_length=30,
        help_text=_("Empty: no referrer."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        referrer = self.lead.referred_by
        if referrer is not None:
            first = referrer.phones.order_by("-is_primary", "pk").first()
            self.initial["phone"] = first.number if first else ""


class InvalidateForm(LeadActionForm):
    prefix_name = "invalid"
    reason = forms.ChoiceField(label=_("Why invalid"), choices=InvalidReason.choices)
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class DealForm(LeadActionForm):
    prefix_name = "deal"
    vehicle_model = forms.ModelChoiceField(
        label=_("Vehicle model"), queryset=VehicleModel.objects.filter(is_active=True)
    )
    stage = forms.ChoiceField(
        label=_("Stage"),
        choices=[("order", _("Order (B-card)")), ("delivered", _("Delivery (C-card)"))],
    )
    deal_at = forms.DateTimeField(
        label=_("Date"),
        required=False,
        widget=DateTimeLocalInput(),
        help_text=_("Empty: now."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["vehicle_model"].initial = self.lead.intended_model_id


class OwnerReasonForm(LeadActionForm):
    owner = StaffChoiceField(label=_("Owner"), queryset=User.objects.none())
    reason = required_attr(forms.CharField(label=_("Reason"), required=False, max_length=200))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = owner_choices(self.lead.store, self.user)


class AssignForm(OwnerReasonForm):
    prefix_name = "assign"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.lead.owner_id:  # giving it to its owner is no assignment
            self.fields["owner"].queryset = self.fields["owner"].queryset.exclude(
                pk=self.lead.owner_id
            )


class SupervisorNoteForm(LeadActionForm):
    """A supervisor's note on a lead, for its owner (the timeline shows it)."""

    prefix_name = "note"
    note = required_attr(
        forms.CharField(
            label=_("Note for the agent"),
            required=False,
            max_length=500,
            widget=forms.Textarea(attrs={"rows": 2}),
        )
    )


class ClearEscalationForm(LeadActionForm):
    prefix_name = "clear"
    note = forms.CharField(label=_("What was done (optional)"), required=False, max_length=200)


class ActivateForm(OwnerReasonForm):
    prefix_name = "activate"


class ApproveDefeatForm(LeadActionForm):
    prefix_name = "approve"


class RejectDefeatForm(LeadActionForm):
    prefix_name = "reject"
    note = forms.CharField(label=_("Why rejected (optional)"), required=False, max_length=200)


class MergeForm(LeadActionForm):
    """The same person entered twice: name the other record by its lead number."""

    prefix_name = "merge"
    other_lead = forms.IntegerField(label=_("Lead number of the same person"), min_value=1)

    def clean_other_lead(self):
        number = self.cleaned_data["other_lead"]
        other = (
            Lead.objects.visible_to(self.user).select_related("customer").filter(pk=number).first()
        )
        if other is None:
            raise forms.ValidationError(
                _("There is no lead #%(id)s that you can see.") % {"id": number}
            )
        return other


# ---------------------------------------------------------------- assignment page


class StoreScopedForm(forms.Form):
    """Forms of the assignment page, built for one store."""

    success_css_class = ""

    def __init__(self, *args, store: Store, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.store = store
        self.user = user

    def store_staff(self):
        return User.objects.visible_to(self.user).filter(store=self.store)


class BulkAssignForm(StoreScopedForm):
    ONE, ROUND_ROBIN = "one", "round_robin"

    leads = IdListField(required=False)
    owners = StaffMultipleChoiceField(
        label=_("Give to"),
        queryset=User.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    mode = forms.ChoiceField(
        label=_("Mode"),
        choices=[(ONE, _("All to one person")), (ROUND_ROBIN, _("Round robin"))],
        initial=ROUND_ROBIN,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )
    reason = required_attr(forms.CharField(label=_("Reason"), required=False, max_length=200))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owners"].queryset = (
            self.store_staff().active().filter(role__in=DCC_ROLES).order_by("role", "name")
        )
        morning = timezone.localtime().hour < 12
        self.fields["reason"].initial = (
            _("Morning assignment") if morning else _("Afternoon assignment")
        )

    def clean(self):
        data = super().clean()
        owners = data.get("owners") or []
        if data.get("mode") == self.ONE and len(owners) > 1:
            self.add_error("owners", _("“All to one person”: tick exactly one person."))
        return data


class TransferForm(StoreScopedForm):
    # "From"/"To" are also a period's dates: the transfer's own words.
    from_staff = StaffChoiceField(
        label=pgettext_lazy("transfer", "From"), queryset=User.objects.none()
    )
    to_staff = StaffChoiceField(label=pgettext_lazy("transfer", "To"), queryset=User.objects.none())
    leads = IdListField(required=False)
    reason = required_attr(forms.CharField(label=_("Reason"), required=False, max_length=200))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        staff = self.store_staff().filter(role__in=LEAD_OWNER_ROLES)
        # Someone who left keeps their leads until the manager moves them.
        self.fields["from_staff"].queryset = staff.order_by("-is_active", "role", "name")
        self.fields["to_staff"].queryset = staff.active().order_by("role", "name")
        self.fields["reason"].initial = _("Low-intent handover")
        # Picking "from" loads that person's transferable leads (htmx).
        self.fields["from_staff"].widget.attrs.update(
            {
                "hx-get": reverse("leads:assignment-transfer"),
                "hx-trigger": "change",
                "hx-target": "#transfer-leads",
                "hx-vals": json.dumps({"store": str(self.store.pk)}),
                "data-testid": "transfer-from",
            }
        )
        self.fields["to_staff"].widget.attrs["data-testid"] = "transfer-to"


class ActivateManyForm(StoreScopedForm):
    leads = IdListField(required=False)
    owner = StaffChoiceField(label=_("Give to"), queryset=User.objects.none())
    reason = required_attr(forms.CharField(label=_("Reason"), required=False, max_length=200))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = (
            self.store_staff().active().filter(role__in=LEAD_OWNER_ROLES).order_by("role", "name")
        )
        self.fields["reason"].initial = _("Re-activate defeated lead")


class DefeatDecisionForm(forms.Form):
    APPROVE, REJECT = "approve", "reject"
    decision = forms.ChoiceField(choices=[(APPROVE, _("Approve")), (REJECT, _("Reject"))])
    note = forms.CharField(required=False, max_length=200)


# ---------------------------------------------------------------- connectors and merges


class LeadConnectorForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    code = forms.SlugField(
        label=_("Code"),
        max_length=40,
        help_text=_("Part of the address the sender pushes to: /api/v1/leads/inbound/<code>/"),
    )
    store = forms.ModelChoiceField(label=_("Store"), queryset=Store.objects.none())
    kind = forms.ChoiceField(label=_("Kind"))
    profile = forms.ModelChoiceField(
        label=_("Field map (import profile)"),
        queryset=None,
        required=False,
        help_text=_("Leave empty to read the kind's own field names and the known aliases."),
    )

    def __init__(self, *args, user, **kwargs):
        from leads.models import ConnectorKind, ImportProfile

        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = Store.objects.visible_to(user)
        self.fields["kind"].choices = ConnectorKind.choices
        self.fields["profile"].queryset = ImportProfile.objects.visible_to(user)
        if user.store_id:
            self.fields["store"].initial = user.store_id


class LeadMergeForm(forms.Form):
    owner = forms.ModelChoiceField(
        label=_("Who keeps the merged lead"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)

    def __init__(self, *args, owners, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = User.objects.filter(pk__in=[o.pk for o in owners])


class DistributionRuleForm(StoreScopedForm):
    """A distribution rule (leads.distribution): conditions, target, method.
    Weights are read from ``weight_<staff id>`` inputs beside each person."""

    name = forms.CharField(label=_("Name"), max_length=100)
    position = forms.IntegerField(label=_("Order"), min_value=0, max_value=32767, initial=100)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    sources = forms.MultipleChoiceField(
        label=_("Sources"),
        choices=Source.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    channels = forms.ModelMultipleChoiceField(
        label=_("Channels"),
        queryset=Channel.objects.filter(is_active=True),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    intended_models = forms.ModelMultipleChoiceField(
        label=_("Intended models"),
        queryset=VehicleModel.objects.filter(is_active=True),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )
    levels = forms.MultipleChoiceField(
        label=_("Levels"),
        choices=Level.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    weekdays = forms.TypedMultipleChoiceField(
        label=_("Days of the week"),
        choices=[(day.value, day.label) for day in Weekday],
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    time_from = forms.TimeField(
        label=_("Arriving from"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    time_until = forms.TimeField(
        label=_("Arriving until"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.none(), required=False)
    staff = StaffMultipleChoiceField(
        label=_("Or these staff"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    method = forms.ChoiceField(label=_("Method"), choices=DistributionMethod.choices)
    daily_cap = forms.IntegerField(
        label=_("At most per person per day"), min_value=1, max_value=32767, required=False
    )

    def __init__(self, *args, rule=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.visible_to(self.user).filter(store=self.store)
        self.fields["staff"].queryset = (
            self.store_staff().active().filter(role__in=LEAD_OWNER_ROLES).order_by("role", "name")
        )
        self.weights = {}
        if rule is not None and not self.is_bound:
            targets = list(rule.targets.all())
            self.weights = {target.staff_id: target.weight for target in targets}
            self.initial.update(
                {
                    "name": rule.name,
                    "position": rule.position,
                    "is_active": rule.is_active,
                    "sources": rule.sources,
                    "levels": rule.levels,
                    "weekdays": rule.weekdays,
                    "channels": list(rule.channels.all()),
                    "intended_models": list(rule.intended_models.all()),
                    "time_from": rule.time_from,
                    "time_until": rule.time_until,
                    "team": rule.team,
                    "staff": [target.staff_id for target in targets],
                    "method": rule.method,
                    "daily_cap": rule.daily_cap,
                }
            )

    def staff_rows(self):
        """Each person offered, ticked or not, with the weight shown."""
        ticked = {str(value) for value in (self["staff"].value() or [])}
        for person in self.fields["staff"].queryset:
            weight = self.data.get(f"weight_{person.pk}") if self.is_bound else None
            yield {
                "person": person,
                "ticked": str(person.pk) in ticked,
                "weight": weight or self.weights.get(person.pk, 1),
            }

    def clean(self):
        data = super().clean()
        targets = []
        for person in data.get("staff") or []:
            raw = (self.data.get(f"weight_{person.pk}") or "1").strip()
            if not raw.isdigit() or not 1 <= int(raw) <= 100:
                self.add_error("staff", _("A weight is a whole number from 1 to 100."))
                break
            targets.append((person, int(raw)))
        data["targets"] = targets
        return data
