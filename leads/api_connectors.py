"""Inbound lead connectors (API.md "Leads"): the signed push endpoint, and
connectors set up by a store's manager or an administrator."""

from django.contrib.auth.decorators import login_not_required
from django.utils.decorators import method_decorator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from dcc.api import VisibleOrgViewSet
from dcc.api_base import ScopedPrimaryKeyRelatedField
from dcc.api_fields import ModelSerializer
from dcc.models import Store
from leads import connectors
from leads.models import ImportProfile, LeadConnector


class LeadConnectorSerializer(ModelSerializer):
    store = ScopedPrimaryKeyRelatedField(queryset=Store.objects.all())
    profile = ScopedPrimaryKeyRelatedField(
        queryset=ImportProfile.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = LeadConnector
        fields = [
            "id",
            "name",
            "code",
            "store",
            "kind",
            "profile",
            "replay_window",
            "is_active",
            "created_at",
        ]
        read_only_fields = ["is_active", "created_at"]


class LeadConnectorCreatedSerializer(LeadConnectorSerializer):
    """The answer to a creation: the only time the API shows the secret."""

    secret = serializers.CharField(read_only=True)

    class Meta(LeadConnectorSerializer.Meta):
        fields = [*LeadConnectorSerializer.Meta.fields, "secret"]


class LeadConnectorViewSet(VisibleOrgViewSet):
    """``POST /api/v1/lead-connectors/`` ``{"name", "code", "store", "kind"}``
    (manager of the store, administrator) → 201 with the ``secret``, once."""

    queryset = LeadConnector.objects.select_related("store")
    serializer_class = LeadConnectorSerializer
    capabilities = {
        "create": "leads.connectors.manage",
        "list": "leads.connectors.manage",
        "retrieve": "leads.connectors.manage",
    }
    filterset_fields = ["store", "kind", "is_active"]

    @extend_schema(responses={201: LeadConnectorCreatedSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        connector = connectors.connector_create(actor=request.user, **serializer.validated_data)
        return Response(
            LeadConnectorCreatedSerializer(connector, context={"request": request}).data,
            status=201,
        )


class InboundReplySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    owner = serializers.IntegerField(allow_null=True)
    created = serializers.BooleanField()


@method_decorator(login_not_required, name="dispatch")
class InboundLeadView(APIView):
    """``POST /api/v1/leads/inbound/<connector>/``: a lead pushed by a portal,
    OEM system or ad platform. No account: the signature is the credential
    (``leads.connectors``); throttled per sending address."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "lead-inbound"

    @extend_schema(
        operation_id="leads_inbound_push",
        request=OpenApiTypes.OBJECT,
        parameters=[
            OpenApiParameter("X-DCC-Timestamp", str, OpenApiParameter.HEADER, required=True),
            OpenApiParameter("X-DCC-Signature", str, OpenApiParameter.HEADER, required=True),
        ],
        responses={
            201: InboundReplySerializer,
            200: InboundReplySerializer,
            400: OpenApiResponse(description="A field the store cannot read, per field."),
            401: OpenApiResponse(description="Unknown connector, bad or stale signature."),
            409: OpenApiResponse(description="The phone has an open lead in the store."),
        },
    )
    def post(self, request, connector):
        body = request.body
        if len(body) > connectors.MAX_BODY:
            return Response({"detail": "body too large"}, status=413)
        reply = connectors.receive(
            code=connector,
            body=body,
            timestamp=request.headers.get("X-DCC-Timestamp", ""),
            signature=request.headers.get("X-DCC-Signature", ""),
        )
        return Response(reply.data, status=reply.status)
