"""Follow-up, appointment and queue serializers (API.md "Follow-ups,
appointments, deals").

Input serializers only *resolve* what a request names: staff by id within the
caller's scope (``ScopedPrimaryKeyRelatedField``: another store's staff is a
400), defeat reasons by code from the lead's store list, the optional
appointment of an "invited" follow-up nested or flat. Every rule (who may
name another agent, the back-entry rule, transitions, receivers) is the
service's; its ``ValidationError`` comes back as a 400 per field.
"""

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from dcc.api_base import ScopedPrimaryKeyRelatedField
from dcc.api_fields import DateTimeField, ModelSerializer
from dcc.models import User
from followups import selectors
from followups.models import (
    Appointment,
    AppointmentStatus,
    Channel,
    FollowUp,
    Purpose,
    Result,
    SmsKind,
    SmsMessage,
    SmsStatus,
    VisitType,
)
from leads.models import DefeatReason, InvalidReason, Lead, Level
from leads.serializers import ConflictSerializer, reason_field

# ---------------------------------------------------------------- output


_CHOICE_FIELDS: dict[tuple, type] = {}


def choice_field(choices, *, component: str | None = None, **kwargs) -> serializers.ChoiceField:
    """A ChoiceField whose enum has its own schema name (``component``) or is
    written inline: several models here have a "status" or a "kind", and
    drf-spectacular would otherwise name their enums by the field alone."""
    values = [value for value, _label in choices]
    if kwargs.get("allow_blank"):
        values.append("")
    key = (component, *values)
    if key not in _CHOICE_FIELDS:  # one class per component, or the schema sees two
        schema = {"type": "string", "enum": values}
        _CHOICE_FIELDS[key] = extend_schema_field(schema, component_name=component)(
            type("ChoiceField", (serializers.ChoiceField,), {})
        )
    return _CHOICE_FIELDS[key](choices=choices, **kwargs)


def _lead_status():
    # A plain string: the lead's own serializer documents the codes (one
    # enum under one name in the schema).
    return serializers.CharField(
        source="lead.status",
        read_only=True,
        help_text="The lead's status now, as in GET /api/v1/leads/{id}/ "
        "(after this change when just made).",
    )


class FollowUpSerializer(ModelSerializer):
    agent_name = serializers.CharField(source="agent.display_name", read_only=True)
    channel = serializers.ChoiceField(choices=Channel.choices, read_only=True)
    purpose = serializers.ChoiceField(choices=Purpose.choices, read_only=True)
    result = serializers.ChoiceField(choices=Result.choices, read_only=True)
    lead_status = _lead_status()

    class Meta:
        model = FollowUp
        fields = [
            "id",
            "lead",
            "store",
            "agent",
            "agent_name",
            "channel",
            "purpose",
            "result",
            "note",
            "occurred_at",
            "next_followup_at",
            "level_before",
            "level_after",
            "is_first_call",
            "lead_status",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class AppointmentSmsSerializer(ModelSerializer):
    kind = choice_field(SmsKind.choices, component="SmsKindEnum", read_only=True)
    status = choice_field(SmsStatus.choices, component="SmsStatusEnum", read_only=True)

    class Meta:
        model = SmsMessage
        fields = ["id", "kind", "status", "send_after", "sent_at"]
        read_only_fields = fields


class AppointmentSerializer(ModelSerializer):
    customer_name = serializers.CharField(source="lead.customer.name", read_only=True)
    agent_name = serializers.CharField(source="agent.display_name", read_only=True)
    receiver_name = serializers.CharField(
        source="receiver.display_name", read_only=True, default=None, allow_null=True
    )
    purpose = serializers.ChoiceField(choices=Purpose.choices, read_only=True)
    visit_type = serializers.ChoiceField(choices=VisitType.choices, read_only=True)
    status = choice_field(
        AppointmentStatus.choices, component="AppointmentStatusEnum", read_only=True
    )
    lead_status = _lead_status()
    sms = AppointmentSmsSerializer(
        many=True,
        read_only=True,
        help_text="The SMS planned for the appointment: booking notices and the reminder.",
    )

    class Meta:
        model = Appointment
        fields = [
            "id",
            "lead",
            "store",
            "customer_name",
            "agent",
            "agent_name",
            "receiver",
            "receiver_name",
            "scheduled_at",
            "purpose",
            "visit_type",
            "status",
            "note",
            "confirmed_at",
            "arrived_at",
            "test_drive",
            "group_size",
            "visit_number",
            "is_walk_in",
            "no_show_at",
            "cancelled_at",
            "flagged_at",
            "version",
            "lead_status",
            "sms",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class FollowUpLoggedSerializer(FollowUpSerializer):
    """A follow-up just logged, with the visit it booked (result "invited")."""

    appointment = AppointmentSerializer(
        read_only=True, allow_null=True, help_text="The visit booked in the same call, if any."
    )

    class Meta(FollowUpSerializer.Meta):
        fields = [*FollowUpSerializer.Meta.fields, "appointment"]
        read_only_fields = fields


class AppointmentPendingSerializer(ConflictSerializer):
    """409 of a booking: the lead's state forbids it (``detail`` only), or
    the lead has a pending visit (``services.AppointmentPending``: the rest)."""

    code = serializers.CharField(required=False)
    existing_appointment = serializers.IntegerField(required=False)
    scheduled_at = serializers.DateTimeField(required=False)


# ---------------------------------------------------------------- queue


class QueueLeadSerializer(ModelSerializer):
    """What a queue row shows of its lead (one query per queue section)."""

    name = serializers.CharField(source="customer.name", read_only=True)
    phone_display = serializers.CharField(read_only=True)
    channel = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    intended_model_name = serializers.CharField(
        source="intended_model.name", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = Lead
        fields = [
            "id",
            "name",
            "phone",
            "phone_display",
            "source",
            "channel",
            "intended_model",
            "intended_model_name",
            "level",
            "status",
            "received_at",
            "first_contact_due",
            "next_followup_at",
            "unanswered_attempts",
        ]
        read_only_fields = fields


class QueueAppointmentSerializer(ModelSerializer):
    purpose = serializers.ChoiceField(choices=Purpose.choices, read_only=True)
    visit_type = serializers.ChoiceField(choices=VisitType.choices, read_only=True)
    status = choice_field(
        AppointmentStatus.choices, component="AppointmentStatusEnum", read_only=True
    )
    receiver_name = serializers.CharField(
        source="receiver.display_name", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = Appointment
        fields = [
            "id",
            "scheduled_at",
            "purpose",
            "visit_type",
            "status",
            "receiver",
            "receiver_name",
        ]
        read_only_fields = fields


QUEUE_KINDS = list(selectors.QUEUE_KINDS.items())


class QueueItemSerializer(serializers.Serializer):
    """One row of ``followups.selectors.queue_for_agent``."""

    kind = choice_field(
        QUEUE_KINDS,
        component="QueueKindEnum",
        help_text="Why the row is in the queue, in this order: first call due within the "
        "store's warning hours (or past), overdue follow-up, new lead to call first, "
        "tomorrow's visit to confirm, a call to retry (not reached yet), follow-up due "
        "today, a closed lead due a re-contact (defeated, or after-sales), an open lead "
        "with no follow-up planned, follow-up planned later. Every open lead is in "
        "exactly one.",
    )
    reason = serializers.SerializerMethodField(help_text="The why, in words.")
    deadline = DateTimeField(
        allow_null=True,
        help_text="When it is (or was) due: the planned follow-up, the first-contact "
        "deadline (none for a lead without one) or the visit's time.",
    )
    is_late = serializers.SerializerMethodField(help_text="The deadline has passed.")
    lead = QueueLeadSerializer()
    appointment = QueueAppointmentSerializer(allow_null=True)

    def get_reason(self, item) -> str:
        return item.reason

    def get_is_late(self, item) -> bool:
        return item.deadline is not None and item.deadline < self.context["now"]


# ---------------------------------------------------------------- input


def _staff_field(**kwargs):
    return ScopedPrimaryKeyRelatedField(queryset=User.objects.all(), **kwargs)


class AppointmentBookSerializer(serializers.Serializer):
    """``appointment_book``'s arguments."""

    scheduled_at = DateTimeField()
    purpose = serializers.ChoiceField(choices=Purpose.choices, required=False)
    visit_type = serializers.ChoiceField(
        choices=VisitType.choices,
        required=False,
        help_text="What the customer comes for, as their SMS says it; "
        "defaults from the purpose (test drive, event, else seeing the car).",
    )
    receiver = _staff_field(
        required=False, allow_null=True, help_text="The showroom salesperson receiving the visit."
    )
    note = serializers.CharField(required=False, allow_blank=True)


class InlineAppointmentSerializer(serializers.Serializer):
    """The visit booked with an "invited" follow-up (its purpose is the follow-up's)."""

    scheduled_at = DateTimeField()
    receiver = _staff_field(required=False, allow_null=True)
    visit_type = serializers.ChoiceField(choices=VisitType.choices, required=False)
    note = serializers.CharField(required=False, allow_blank=True)


class FollowUpCreateSerializer(serializers.Serializer):
    """``followup_log``'s arguments. Omitted optional fields are not passed, so
    the service's defaults apply (now, the caller, the level's cadence)."""

    channel = serializers.ChoiceField(choices=Channel.choices)
    purpose = serializers.ChoiceField(choices=Purpose.choices, required=False)
    result = serializers.ChoiceField(choices=Result.choices)
    note = serializers.CharField(required=False, allow_blank=True)
    occurred_at = DateTimeField(
        required=False,
        help_text="Defaults to now. An agent may enter a time earlier today; "
        "a manager or admin any past time.",
    )
    next_followup_at = DateTimeField(
        required=False,
        allow_null=True,
        help_text="Defaults to the time plus the level's cadence (store setting).",
    )
    level = serializers.ChoiceField(
        choices=Level.choices, required=False, help_text="A new intent level, if it changed."
    )
    agent = _staff_field(
        required=False,
        allow_null=True,
        help_text="Who made the contact; defaults to the caller. Only a manager or admin "
        "names someone else.",
    )
    defeat_reason = serializers.SlugRelatedField(
        slug_field="code",
        queryset=DefeatReason.objects.all(),
        required=False,
        allow_null=True,
        help_text='result "defeated": a code from GET /api/v1/defeat-reasons/ for the '
        'lead\'s store; "other" when omitted (the note then says why).',
    )
    invalid_reason = choice_field(
        InvalidReason.choices,
        required=False,
        allow_blank=True,
        help_text='result "invalid": why; "other" when omitted.',
    )
    recontact_at = DateTimeField(
        required=False,
        allow_null=True,
        help_text='result "defeated": when the owner calls the customer again (战败回访); '
        "the lead comes back to their queue then without being reopened.",
    )
    appointment = InlineAppointmentSerializer(
        required=False,
        allow_null=True,
        help_text='result "invited": the visit to book in the same call (or give '
        "scheduled_at and receiver flat).",
    )
    scheduled_at = DateTimeField(
        required=False, help_text='result "invited": the visit\'s time (flat form).'
    )
    receiver = _staff_field(
        required=False,
        allow_null=True,
        help_text='result "invited": the receiving salesperson (flat form).',
    )

    def __init__(self, *args, reasons=None, **kwargs):
        super().__init__(*args, **kwargs)
        if reasons is not None:
            self.fields["defeat_reason"].queryset = reasons

    def validate(self, attrs):
        flat = {key: attrs.pop(key) for key in ("scheduled_at", "receiver") if key in attrs}
        nested = attrs.pop("appointment", None)
        if nested and flat:
            raise serializers.ValidationError(
                {"appointment": [_("Give the appointment nested or flat, not both.")]}
            )
        appointment = nested or flat
        if appointment:
            if attrs.get("result") != Result.INVITED:
                field = "appointment" if nested else next(iter(flat))
                raise serializers.ValidationError(
                    {field: [_("An appointment is booked with the result “invited” only.")]}
                )
            if "scheduled_at" not in appointment:
                message = self.fields["scheduled_at"].error_messages["required"]
                raise serializers.ValidationError({"scheduled_at": [message]})
            attrs["appointment"] = appointment
        if attrs.get("result") != Result.DEFEATED and attrs.get("defeat_reason"):
            raise serializers.ValidationError(
                {"defeat_reason": [_("A defeat reason goes with the result “defeated” only.")]}
            )
        if attrs.get("result") != Result.INVALID and attrs.get("invalid_reason"):
            raise serializers.ValidationError(
                {"invalid_reason": [_("An invalid reason goes with the result “invalid” only.")]}
            )
        return attrs


class ArriveSerializer(serializers.Serializer):
    arrived_at = DateTimeField(
        required=False,
        help_text="Defaults to now; the back-entry rule applies (an agent: earlier today).",
    )
    test_drive = serializers.BooleanField(required=False, default=False)
    # The upper bound is the column's; the service checks the lower one.
    group_size = serializers.IntegerField(required=False, default=1, max_value=32767)


class RescheduleSerializer(serializers.Serializer):
    scheduled_at = DateTimeField()
    reason = reason_field(required=False, allow_blank=True, default="")


class CancelSerializer(serializers.Serializer):
    reason = reason_field(required=False, allow_blank=True, default="")
