"""Campaign endpoints (issue 18): segments with their count, campaigns,
their launch and rounds, members with their replies. Thin views over
``followups.campaigns.services``: every queryset is scoped (404 outside
the caller's scope), every write checks the capability (403)."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from dcc.api_base import ScopedPrimaryKeyRelatedField, ScopedViewSetMixin
from dcc.api_fields import DateTimeField, ModelSerializer
from dcc.models import Team
from dcc.policy import can
from followups.campaigns import segments, services
from followups.campaigns.models import (
    CallOutcome,
    CallTarget,
    Campaign,
    CampaignKind,
    CampaignMember,
    CampaignRound,
    CampaignStatus,
    RoundStatus,
    Segment,
)
from followups.models import DeliveryStatus, SmsReply, SmsStatus
from followups.serializers import choice_field
from leads.models import VehicleModel

# ---------------------------------------------------------------- serializers


class SegmentSerializer(ModelSerializer):
    count = serializers.SerializerMethodField(help_text="Customers matching now.")

    class Meta:
        model = Segment
        fields = ["id", "name", "filters", "count", "created_at"]
        read_only_fields = ["id", "count", "created_at"]

    def get_count(self, segment) -> int:
        return segments.customers(segment.store, segment.filters).count()


class CampaignSerializer(ModelSerializer):
    kind = choice_field(CampaignKind.choices, component="CampaignKindEnum", required=False)
    status = choice_field(CampaignStatus.choices, component="CampaignStatusEnum", read_only=True)
    call_target = choice_field(CallTarget.choices, component="CallTargetEnum", required=False)
    segment = ScopedPrimaryKeyRelatedField(
        queryset=Segment.objects.all(), allow_null=True, required=False
    )
    team = ScopedPrimaryKeyRelatedField(
        queryset=Team.objects.all(), allow_null=True, required=False
    )
    promoted_models = serializers.PrimaryKeyRelatedField(
        queryset=VehicleModel.objects.all(), many=True, required=False
    )
    sms_params = serializers.ListField(
        child=serializers.ChoiceField(choices=list(services.PARAM_SOURCES)),
        required=False,
        help_text="The template's parameters in order.",
    )
    member_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "kind",
            "team",
            "promoted_models",
            "starts_on",
            "ends_on",
            "segment",
            "sms_template_id",
            "sms_params",
            "call_script",
            "call_delay_hours",
            "call_target",
            "attempt_cap",
            "status",
            "launched_at",
            "member_count",
            "created_at",
        ]
        read_only_fields = ["id", "status", "launched_at", "member_count", "created_at"]


class RoundSerializer(ModelSerializer):
    status = choice_field(RoundStatus.choices, component="CampaignRoundStatusEnum", read_only=True)

    class Meta:
        model = CampaignRound
        fields = [
            "id",
            "number",
            "status",
            "planned_at",
            "dispatched_at",
            "planned_count",
            "skipped_count",
        ]
        read_only_fields = fields


class ReplySerializer(ModelSerializer):
    class Meta:
        model = SmsReply
        fields = ["id", "text", "received_at"]
        read_only_fields = fields


class MemberSerializer(ModelSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    phone = serializers.CharField(source="phone_display", read_only=True)
    vehicle_model = serializers.CharField(
        source="vehicle.vehicle_model.name", read_only=True, default=None
    )
    sms_status = choice_field(
        SmsStatus.choices,
        component="SmsStatusEnum",
        source="sms.status",
        read_only=True,
        default=None,
    )
    sms_delivery = choice_field(
        DeliveryStatus.choices,
        component="SmsDeliveryEnum",
        source="sms.delivery_status",
        read_only=True,
        default=None,
    )
    call_outcome = choice_field(
        CallOutcome.choices, component="CampaignCallOutcomeEnum", read_only=True
    )
    replied_at = DateTimeField(read_only=True)

    class Meta:
        model = CampaignMember
        fields = [
            "id",
            "campaign",
            "customer",
            "customer_name",
            "phone",
            "vehicle",
            "vehicle_model",
            "sms_status",
            "sms_delivery",
            "replied_at",
            "reply_text",
            "opted_out_at",
            "caller",
            "call_due_at",
            "call_attempts",
            "call_outcome",
            "outcome_at",
            "lead",
            "invited",
        ]
        read_only_fields = fields


class MemberDetailSerializer(MemberSerializer):
    replies = serializers.SerializerMethodField()

    class Meta(MemberSerializer.Meta):
        fields = [*MemberSerializer.Meta.fields, "replies"]
        read_only_fields = fields

    @extend_schema(responses=ReplySerializer(many=True))
    def get_replies(self, member) -> list[dict]:
        replies = SmsReply.objects.filter(store_id=member.campaign.store_id, phone=member.phone)
        if member.campaign.launched_at:
            replies = replies.filter(received_at__gte=member.campaign.launched_at)
        return ReplySerializer(replies.order_by("received_at"), many=True).data


# ---------------------------------------------------------------- views


def _store_of(request):
    if request.user.store is None:
        raise PermissionDenied("segments and campaigns belong to a store")
    return request.user.store


class SegmentViewSet(
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Saved segments of the caller's store, each with its live count."""

    queryset = Segment.objects.select_related("store").order_by("name")
    serializer_class = SegmentSerializer
    lookup_value_regex = r"\d+"
    capabilities = {
        "list": "campaigns.view",
        "retrieve": "campaigns.view",
        "create": "campaigns.manage",
    }

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.segment_save(
            actor=self.request.user,
            store=_store_of(self.request),
            name=data["name"],
            filters=data.get("filters") or {},
        )


class CampaignViewSet(
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Campaigns in the caller's scope; their launch (members frozen, the
    first SMS round planned), further rounds and members."""

    queryset = (
        Campaign.objects.select_related("store", "segment")
        .prefetch_related("promoted_models")
        .with_member_count()
        .order_by("-created_at", "-id")  # a grouped query drops Meta.ordering
    )
    serializer_class = CampaignSerializer
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "patch", "head", "options"]
    capabilities = {
        "list": "campaigns.view",
        "retrieve": "campaigns.view",
        "create": "campaigns.manage",
        "partial_update": "campaigns.manage",
        "launch": "campaigns.manage",
        "close": "campaigns.manage",
        "rounds": "campaigns.view",
        "members": "campaigns.view",
    }

    def _save(self, serializer, campaign):
        data = dict(serializer.validated_data)
        promoted = data.pop("promoted_models", None)
        for name, value in data.items():
            setattr(campaign, name, value)
        return services.campaign_save(
            actor=self.request.user, campaign=campaign, promoted_models=promoted
        )

    def perform_create(self, serializer):
        campaign = self._save(serializer, Campaign(store=_store_of(self.request)))
        serializer.instance = self.get_queryset().get(pk=campaign.pk)

    def perform_update(self, serializer):
        campaign = self._save(serializer, serializer.instance)
        serializer.instance = self.get_queryset().get(pk=campaign.pk)

    def _reload(self, campaign):
        return Response(self.get_serializer(self.get_queryset().get(pk=campaign.pk)).data)

    @extend_schema(request=None, responses={200: RoundSerializer})
    @action(detail=True, methods=["post"])
    def launch(self, request, pk=None):
        """Freeze the target segment's customers as members and plan the
        first SMS round (one message per member, sent at the provider's pace)."""
        round_ = services.campaign_launch(actor=request.user, campaign=self.get_object())
        return Response(RoundSerializer(round_).data)

    @extend_schema(request=None, responses={200: CampaignSerializer})
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        return self._reload(services.campaign_close(actor=request.user, campaign=self.get_object()))

    @extend_schema(methods=["GET"], request=None, responses={200: RoundSerializer(many=True)})
    @extend_schema(methods=["POST"], request=None, responses={201: RoundSerializer})
    @action(detail=True, methods=["get", "post"])
    def rounds(self, request, pk=None):
        """The campaign's SMS rounds; POST plans the next one (members opted
        out since are skipped)."""
        campaign = self.get_object()
        if request.method == "POST":
            if not can(request.user, "campaigns.manage"):
                raise PermissionDenied()
            round_ = services.round_plan(actor=request.user, campaign=campaign)
            return Response(RoundSerializer(round_).data, status=status.HTTP_201_CREATED)
        return Response(RoundSerializer(campaign.rounds.order_by("number"), many=True).data)

    @extend_schema(responses={200: MemberSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def members(self, request, pk=None):
        """The campaign's members (frozen at launch), paginated;
        ``?replied=true`` / ``?opted_out=true`` narrow them."""
        campaign = self.get_object()
        members = (
            CampaignMember.objects.visible_to(request.user)
            .filter(campaign=campaign)
            .select_related("customer", "vehicle__vehicle_model", "sms")
            .order_by("pk")
        )
        if request.query_params.get("replied") == "true":
            members = members.filter(replied_at__isnull=False)
        if request.query_params.get("opted_out") == "true":
            members = members.filter(opted_out_at__isnull=False)
        page = self.paginate_queryset(members)
        return self.get_paginated_response(MemberSerializer(page, many=True).data)


class CampaignMemberViewSet(ScopedViewSetMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """One member with the replies received since the launch."""

    queryset = CampaignMember.objects.select_related(
        "campaign", "customer", "vehicle__vehicle_model", "sms"
    )
    serializer_class = MemberDetailSerializer
    lookup_value_regex = r"\d+"
    capabilities = {"retrieve": "campaigns.view"}
