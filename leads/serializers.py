"""Lead serializers (API.md "Leads", "deals").

Input serializers only *resolve* what a request names: related objects by id
within the caller's scope (``ScopedPrimaryKeyRelatedField``: another store's
staff or store is a 400), channels and defeat reasons by code. Every rule
(who may own, which transitions, reasons required, phone validity) is the
service's; its ``ValidationError`` comes back as a 400 per field.
"""

from datetime import date, datetime

from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.translation import gettext
from rest_framework import serializers

from dcc.api_base import ScopedPrimaryKeyRelatedField
from dcc.api_fields import DateField, DateTimeField, ModelSerializer
from dcc.models import Store, User
from leads.aliases import Resolver, Unknown, unknown_message
from leads.models import (
    Channel,
    Customer,
    Deal,
    DefeatReason,
    InvalidReason,
    Lead,
    Level,
    Source,
    VehicleModel,
)

# ---------------------------------------------------------------- output


class DealSerializer(ModelSerializer):
    card = serializers.ChoiceField(
        choices=[("B", "B"), ("C", "C")],
        read_only=True,
        help_text="B while ordered, C once delivered.",
    )

    class Meta:
        model = Deal
        fields = [
            "id",
            "lead",
            "vehicle_model",
            "agent",
            "ordered_at",
            "delivered_at",
            "card",
            "created_at",
        ]
        read_only_fields = fields


class LeadSerializer(ModelSerializer):
    """A lead as lists and writes answer it."""

    name = serializers.CharField(source="customer.name", read_only=True)
    phone = serializers.CharField(read_only=True, help_text="E.164, e.g. +8613812345678.")
    phone_display = serializers.CharField(read_only=True)
    channel = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    owner_name = serializers.CharField(
        source="owner.display_name", read_only=True, default=None, allow_null=True
    )
    is_valid_a_card = serializers.BooleanField(read_only=True)
    defeat_reason = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    # A plain string here: the input's ``reason`` documents the codes (one
    # enum under one name in the schema).
    invalid_reason = serializers.CharField(read_only=True)

    class Meta:
        model = Lead
        fields = [
            "id",
            "store",
            "customer",
            "name",
            "phone",
            "phone_display",
            "source",
            "channel",
            "intended_model",
            "level",
            "status",
            "owner",
            "owner_name",
            "created_by",
            "received_at",
            "first_contact_due",
            "first_contacted_at",
            "next_followup_at",
            "expected_purchase_date",
            "note",
            "is_valid_a_card",
            "is_dcc_invited",
            "defeat_reason",
            "defeat_note",
            "defeated_at",
            "invalid_reason",
            "invalid_note",
            "handover_consultant",
            "handover_visit_date",
            "handover_defeat_reason",
            "transferred_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ActorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="display_name")


class ChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    old = serializers.JSONField(allow_null=True)
    new = serializers.JSONField(allow_null=True)

    def to_representation(self, instance):
        return {
            "field": force_str(instance["field"]),
            "old": _plain(instance["old"]),
            "new": _plain(instance["new"]),
        }


def _plain(value):
    """A history value as JSON: times in the local zone, like every other time."""
    if isinstance(value, datetime):
        return DateTimeField().to_representation(value) if timezone.is_aware(value) else value
    if isinstance(value, date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return force_str(value)


class TimelineEntrySerializer(serializers.Serializer):
    """One row of ``selectors.lead_timeline``: a history row (field changes
    with their reason) or an audit event (its dotted name and data)."""

    kind = serializers.ChoiceField(choices=[("history", "history"), ("event", "event")])
    at = DateTimeField()
    actor = ActorSerializer(allow_null=True)
    created = serializers.BooleanField(required=False, help_text="history: the lead was entered")
    reason = serializers.CharField(required=False, help_text="history: why it changed")
    changes = ChangeSerializer(many=True, required=False, help_text="history: what changed")
    name = serializers.CharField(required=False, help_text="event: e.g. leads.lead.assigned")
    data = serializers.DictField(required=False, help_text="event: its details")


class ConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()


class DuplicateLeadSerializer(ConflictSerializer):
    existing_lead = serializers.IntegerField()
    owner = serializers.IntegerField(allow_null=True)


class DefeatReasonSerializer(ModelSerializer):
    class Meta:
        model = DefeatReason
        fields = ["code", "label"]
        read_only_fields = fields


# ---------------------------------------------------------------- input

# A text field's length is its column's: longer text is a 400 on the field,
# not a database error.
NAME_MAX_LENGTH = Customer._meta.get_field("name").max_length
# A reason is kept as its history row's change reason.
REASON_MAX_LENGTH = Lead.history.model._meta.get_field("history_change_reason").max_length


def reason_field(**kwargs) -> serializers.CharField:
    """A reason kept in the history (assignments, levels, visits moved)."""
    return serializers.CharField(max_length=REASON_MAX_LENGTH, **kwargs)


def _staff_field(**kwargs):
    return ScopedPrimaryKeyRelatedField(queryset=User.objects.all(), **kwargs)


class ChannelField(serializers.SlugRelatedField):
    """A channel by its code, or by a name or alias as senders write it
    (易车, 汽车之家-车商汇): the one resolver of ``leads.aliases``, as the
    file import uses. An unknown one names the closest known channel."""

    def to_internal_value(self, data):
        if isinstance(data, str) and data:
            found = Resolver().channel(data)
            if isinstance(found, Unknown):
                raise serializers.ValidationError(unknown_message(found, gettext("channel")))
            return found
        return super().to_internal_value(data)


def _channel_field(**kwargs):
    return ChannelField(
        slug_field="code", queryset=Channel.objects.filter(is_active=True), **kwargs
    )


def _model_field(**kwargs):
    return ScopedPrimaryKeyRelatedField(queryset=VehicleModel.objects.all(), **kwargs)


class LeadCreateSerializer(serializers.Serializer):
    """``lead_create``'s arguments. Omitted optional fields are not passed,
    so the service's defaults apply (level B, received now, owner by the
    first-entry rule)."""

    name = serializers.CharField(allow_blank=True, max_length=NAME_MAX_LENGTH)
    phone = serializers.CharField(
        allow_blank=True, help_text="CN mobile or landline, any common notation."
    )
    source = serializers.ChoiceField(choices=Source.choices)
    channel = _channel_field(required=False, allow_null=True, help_text="channel code")
    intended_model = _model_field(required=False, allow_null=True)
    level = serializers.ChoiceField(choices=Level.choices, required=False)
    store = ScopedPrimaryKeyRelatedField(
        queryset=Store.objects.all(),
        required=False,
        help_text="Defaults to the caller's store; required for a group administrator.",
    )
    owner = _staff_field(required=False, allow_null=True)
    received_at = DateTimeField(required=False)
    note = serializers.CharField(required=False, allow_blank=True)
    expected_purchase_date = DateField(required=False, allow_null=True)
    handover_consultant = _staff_field(required=False, allow_null=True)
    handover_visit_date = DateField(required=False, allow_null=True)
    handover_defeat_reason = serializers.CharField(required=False, allow_blank=True)

    def validate(self, attrs):
        if "store" not in attrs:
            store = self.context["request"].user.store
            if store is None:
                message = self.fields["store"].error_messages["required"]
                raise serializers.ValidationError({"store": [message]})
            attrs["store"] = store
        return attrs


class LeadUpdateSerializer(serializers.Serializer):
    """``lead_update``: details only; owner, level and status have their own actions."""

    name = serializers.CharField(required=False, allow_blank=True, max_length=NAME_MAX_LENGTH)
    intended_model = _model_field(required=False, allow_null=True)
    channel = _channel_field(required=False, allow_null=True)
    expected_purchase_date = DateField(required=False, allow_null=True)
    note = serializers.CharField(required=False, allow_blank=True)


class LevelSerializer(serializers.Serializer):
    level = serializers.ChoiceField(choices=Level.choices)
    reason = reason_field(required=False, allow_blank=True, default="")


class AssignSerializer(serializers.Serializer):
    owner = _staff_field()
    reason = reason_field(allow_blank=True, help_text="Kept in the lead's history.")


class MergeSerializer(serializers.Serializer):
    other_lead = serializers.PrimaryKeyRelatedField(
        queryset=Lead.objects.all(),
        help_text="A lead of the same person: its customer record is merged into this one's.",
    )

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        # Only leads the caller may see can be named (another store's is a 400).
        scope = Lead.objects.visible_to(request.user) if request else Lead.objects.none()
        fields["other_lead"].queryset = scope.select_related("customer")
        return fields


class ActivateSerializer(AssignSerializer):
    """Bring a defeated or invalid lead back, to this owner."""


class DefeatSerializer(serializers.Serializer):
    reason = serializers.SlugRelatedField(
        slug_field="code",
        queryset=DefeatReason.objects.all(),
        help_text="A code from GET /api/v1/defeat-reasons/ for the lead's store.",
    )
    note = serializers.CharField(required=False, allow_blank=True, default="")

    def __init__(self, *args, reasons=None, **kwargs):
        super().__init__(*args, **kwargs)
        if reasons is not None:
            self.fields["reason"].queryset = reasons


class DefeatRejectSerializer(serializers.Serializer):
    # Kept as the history's reason.
    note = reason_field(required=False, allow_blank=True, default="")


class InvalidateSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=InvalidReason.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class DealCreateSerializer(serializers.Serializer):
    vehicle_model = _model_field()
    stage = serializers.ChoiceField(
        choices=[("order", "order (B-card)"), ("delivered", "delivered (C-card)")]
    )
    deal_at = DateTimeField(required=False, help_text="Defaults to now.")


class BulkAssignSerializer(serializers.Serializer):
    leads = serializers.ListField(child=serializers.IntegerField(), allow_empty=False)
    owners = _staff_field(many=True)
    reason = reason_field(allow_blank=True)


class SkippedLeadSerializer(serializers.Serializer):
    lead = serializers.IntegerField()
    reason = serializers.CharField()


class SkippedStaffSerializer(serializers.Serializer):
    staff = serializers.IntegerField()
    reason = serializers.CharField()


class BulkAssignResultSerializer(serializers.Serializer):
    assigned = serializers.DictField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text="owner id -> the lead ids they received",
    )
    skipped = SkippedLeadSerializer(many=True)
    skipped_staff = SkippedStaffSerializer(many=True)

    def to_representation(self, instance):
        return {
            "assigned": {str(owner): ids for owner, ids in instance.assigned.items()},
            "skipped": [{"lead": pk, "reason": str(why)} for pk, why in instance.skipped],
            "skipped_staff": [
                {"staff": pk, "reason": str(why)} for pk, why in instance.skipped_staff
            ],
        }


class TransferSerializer(serializers.Serializer):
    from_staff = _staff_field()
    to_staff = _staff_field()
    leads = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        help_text="Only these of from_staff's leads; all of them when omitted.",
    )
    reason = reason_field(allow_blank=True)


class TransferResultSerializer(serializers.Serializer):
    transferred = serializers.ListField(child=serializers.IntegerField())
