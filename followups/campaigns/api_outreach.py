"""API of the call lists and events (issue 18, points 5, 6 and 8):

- ``campaign-calls/``: the caller's members to call now; ``POST
  campaign-calls/{member id}/outcome/`` logs a call (``outcome``, ``note``)
  and answers the member as it is after it (201).
- ``events/``: the store's events (list, read; create: campaign managers).
- ``event-invitations/``: the invitations the user may see (``?event=``);
  ``POST`` invites a lead or a member (``event``, ``lead`` or ``member``,
  ``rsvp``); ``POST event-invitations/{id}/check-in/`` marks the guest
  arrived (once).

Everything goes through the scoped querysets: outside the user's scope 404,
a role without the capability 403, a refused input 400 per field.
"""

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from dcc.api_base import ScopedPrimaryKeyRelatedField, ScopedViewSetMixin
from followups.campaigns import calls, invitations
from followups.campaigns.models import Campaign, CampaignMember
from followups.campaigns.models_outreach import (
    CallResult,
    CampaignEvent,
    EventInvitation,
    Rsvp,
)
from leads.models import Lead


class CallTaskSerializer(serializers.ModelSerializer):
    campaign_name = serializers.CharField(source="campaign.name", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    call_script = serializers.CharField(source="campaign.call_script", read_only=True)
    attempt_cap = serializers.IntegerField(source="campaign.attempt_cap", read_only=True)

    class Meta:
        model = CampaignMember
        fields = [
            "id",
            "campaign",
            "campaign_name",
            "customer",
            "customer_name",
            "phone",
            "vehicle",
            "call_script",
            "call_due_at",
            "call_attempts",
            "attempt_cap",
            "call_outcome",
            "outcome_at",
            "lead",
            "invited",
        ]
        read_only_fields = fields


class OutcomeSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=CallResult.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class CampaignCallViewSet(
    ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """A caller's campaign call list and the outcome of each call."""

    queryset = CampaignMember.objects.select_related("campaign", "customer")
    serializer_class = CallTaskSerializer
    lookup_value_regex = r"\d+"
    capabilities = {
        "list": "campaigns.call",
        "retrieve": "campaigns.call",
        "outcome": "campaigns.call",
    }

    def get_queryset(self):
        members = super().get_queryset().filter(caller=self.request.user)
        if self.action == "list":
            return calls.open_calls_for(self.request.user)
        return members

    @extend_schema(request=OutcomeSerializer, responses={201: CallTaskSerializer})
    @action(detail=True, methods=["post"])
    def outcome(self, request, pk=None):
        member = self.get_object()
        data = OutcomeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        calls.call_record(actor=request.user, member=member, **data.validated_data)
        member = self.get_queryset().get(pk=member.pk)
        return Response(CallTaskSerializer(member).data, status=status.HTTP_201_CREATED)


class EventSerializer(serializers.ModelSerializer):
    campaign = ScopedPrimaryKeyRelatedField(
        queryset=Campaign.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = CampaignEvent
        fields = [
            "id",
            "store",
            "campaign",
            "name",
            "starts_at",
            "place",
            "capacity",
            "sms_template_id",
            "created_at",
        ]
        read_only_fields = ["id", "store", "created_at"]


class EventViewSet(
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = CampaignEvent.objects.all()
    serializer_class = EventSerializer
    lookup_value_regex = r"\d+"
    capabilities = {
        "list": "campaigns.events.view",
        "retrieve": "campaigns.events.view",
        "create": "campaigns.events.manage",
    }

    def perform_create(self, serializer):
        store = self.request.user.store
        if store is None:  # a group administrator: events belong to a store
            raise serializers.ValidationError(
                {"store": [_("Events are created by the store's own staff.")]}
            )
        serializer.instance = invitations.event_create(
            actor=self.request.user, store=store, **serializer.validated_data
        )


class InvitationSerializer(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    event = ScopedPrimaryKeyRelatedField(queryset=CampaignEvent.objects.all())
    lead = ScopedPrimaryKeyRelatedField(
        queryset=Lead.objects.all(), required=False, allow_null=True
    )
    member = ScopedPrimaryKeyRelatedField(
        queryset=CampaignMember.objects.all(), required=False, allow_null=True
    )
    rsvp = serializers.ChoiceField(choices=Rsvp.choices)

    class Meta:
        model = EventInvitation
        fields = [
            "id",
            "event",
            "customer",
            "customer_name",
            "phone",
            "lead",
            "member",
            "invited_by",
            "invited_at",
            "rsvp",
            "reminder_sms",
            "checked_in_at",
            "checked_in_by",
        ]
        read_only_fields = [
            "id",
            "customer",
            "phone",
            "invited_by",
            "invited_at",
            "reminder_sms",
            "checked_in_at",
            "checked_in_by",
        ]

    def validate(self, attrs):
        if bool(attrs.get("lead")) == bool(attrs.get("member")):
            raise serializers.ValidationError(
                {"lead": [_("Invite either a lead or a campaign member.")]}
            )
        return attrs


class EventInvitationViewSet(
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = EventInvitation.objects.select_related("customer")
    serializer_class = InvitationSerializer
    lookup_value_regex = r"\d+"
    capabilities = {
        "create": "campaigns.invite",
        "check_in": "campaigns.events.checkin",
    }

    def get_queryset(self):
        queryset = super().get_queryset().order_by("event", "pk")
        event = self.request.query_params.get("event")
        if event and event.isdigit():
            queryset = queryset.filter(event_id=event)
        return queryset

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = invitations.invite(
            actor=self.request.user,
            event=data["event"],
            rsvp=data["rsvp"],
            lead=data.get("lead"),
            member=data.get("member"),
        )

    @extend_schema(request=None, responses={200: InvitationSerializer})
    @action(detail=True, methods=["post"], url_path="check-in")
    def check_in(self, request, pk=None):
        invitation = invitations.check_in(actor=request.user, invitation=self.get_object())
        return Response(InvitationSerializer(invitation, context={"request": request}).data)
