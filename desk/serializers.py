"""The composed lead (API.md "Leads", ``GET /api/v1/leads/{id}/``): the lead
with what every app knows of it."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from followups.models import Appointment, FollowUp
from followups.serializers import AppointmentSerializer, FollowUpSerializer
from leads import selectors
from leads.serializers import DealSerializer, LeadSerializer, TimelineEntrySerializer
from telephony.api_calls import LeadCallSerializer, visible_calls


class LeadDetailSerializer(LeadSerializer):
    """The lead with its follow-ups, appointments, deals, calls and timeline.
    Whoever sees the lead sees all of its follow-ups and visits (a new owner
    reads the old owner's); calls are scoped on their own."""

    followups = serializers.SerializerMethodField()
    appointments = serializers.SerializerMethodField()
    deals = DealSerializer(many=True, read_only=True)
    calls = serializers.SerializerMethodField()
    timeline = serializers.SerializerMethodField()

    class Meta(LeadSerializer.Meta):
        fields = [
            *LeadSerializer.Meta.fields,
            "followups",
            "appointments",
            "deals",
            "calls",
            "timeline",
        ]
        read_only_fields = fields

    @extend_schema_field(FollowUpSerializer(many=True))
    def get_followups(self, lead):
        rows = FollowUp.objects.filter(lead=lead).select_related("lead", "agent")
        return FollowUpSerializer(rows, many=True, context=self.context).data

    @extend_schema_field(AppointmentSerializer(many=True))
    def get_appointments(self, lead):
        rows = (
            Appointment.objects.filter(lead=lead)
            .select_related("lead__customer", "agent", "receiver")
            .prefetch_related("sms")
        )
        return AppointmentSerializer(rows, many=True, context=self.context).data

    @extend_schema_field(LeadCallSerializer(many=True))
    def get_calls(self, lead):
        """The lead's calls that the caller may see (Call.objects.visible_to:
        the lead's owner sees them all), newest first."""
        user = getattr(self.context.get("request"), "user", None)
        rows = visible_calls(user).filter(lead=lead).defer("legs")
        return LeadCallSerializer(rows, many=True, context=self.context).data

    @extend_schema_field(TimelineEntrySerializer(many=True))
    def get_timeline(self, lead):
        return TimelineEntrySerializer(selectors.lead_timeline(lead=lead), many=True).data
