"""Leads endpoints (API.md "Leads", "deals"): thin views over ``leads.services``.

Each view resolves its input with a serializer, fetches the lead through the
scoped queryset (404 outside the caller's scope), calls one service and maps
its outcome: ``ValidationError`` → 400 per field (``dcc.api_base``),
``PermissionDenied`` → 403, ``DuplicateLead`` and ``LeadStateError`` → 409.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from dcc import audit
from dcc.api import VisibleOrgViewSet
from dcc.api_base import ScopedPrimaryKeyRelatedField, ScopedViewSetMixin
from dcc.api_fields import ModelSerializer
from dcc.models import Store
from leads import selectors, services
from leads.filters import LeadFilter
from leads.lifecycle import LeadStateError
from leads.models import DefeatReason, Lead, Status, VehicleModel
from leads.serializers import (
    ActivateSerializer,
    AssignSerializer,
    BulkAssignResultSerializer,
    BulkAssignSerializer,
    ConflictSerializer,
    DealCreateSerializer,
    DealSerializer,
    DefeatReasonSerializer,
    DefeatRejectSerializer,
    DefeatSerializer,
    DuplicateLeadSerializer,
    InvalidateSerializer,
    LeadCreateSerializer,
    LeadSerializer,
    LeadUpdateSerializer,
    LevelSerializer,
    MergeSerializer,
    TransferResultSerializer,
    TransferSerializer,
)
from leads.services import DuplicateLead


class VehicleModelSerializer(ModelSerializer):
    class Meta:
        model = VehicleModel
        fields = ["id", "name", "category", "is_active"]
        read_only_fields = ["is_active"]


class VehicleModelViewSet(VisibleOrgViewSet):
    queryset = VehicleModel.objects.all()
    serializer_class = VehicleModelSerializer
    capabilities = {"create": "org.vehicle_model.manage"}
    filterset_fields = ["category", "is_active"]

    def perform_create(self, serializer):
        serializer.instance = services.vehicle_model_create(
            actor=self.request.user, **serializer.validated_data
        )


_CONFLICT = OpenApiResponse(ConflictSerializer, description="The lead's state forbids this.")


class ServiceViewMixin:
    """For views that call the lifecycle services: an illegal transition
    (``LeadStateError``) answers 409, and ``_input`` validates a request body
    with a serializer (leads and follow-ups alike)."""

    def handle_exception(self, exc):
        if isinstance(exc, LeadStateError):
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return super().handle_exception(exc)

    def _input(self, serializer_class, **kwargs) -> dict:
        serializer = serializer_class(
            data=self.request.data, context=self.get_serializer_context(), **kwargs
        )
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class LeadViewSet(
    ServiceViewMixin,
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Lead.objects.all()  # narrowed by get_queryset; declared for the router
    serializer_class = LeadSerializer
    filterset_class = LeadFilter
    lookup_value_regex = r"\d+"
    capabilities = {
        "create": "leads.create",
        # A manager in the store, a supervisor in their team (the service
        # narrows: leads.services.lead_assign).
        "assign": "leads.reassign",
        "activate": "leads.assign",
        "defeat_approve": "leads.assign",
        "defeat_reject": "leads.assign",
        "bulk_assign": "leads.assign",
        "transfer": "leads.assign",
        "merge": "leads.merge_customers",
    }

    def get_queryset(self):
        # The selector is the policy's scope plus what a row shows, in one query.
        return selectors.leads_for(user=self.request.user).select_related("defeat_reason")

    def list(self, request, *args, **kwargs):
        """Every page of the list is logged: an integration pages through all
        of a store's customers (dcc.audit.record_access)."""
        response = super().list(request, *args, **kwargs)
        data = response.data
        rows = data.get("results", []) if isinstance(data, dict) else data
        audit.record_access(
            "leads.api_list",
            actor=request.user,
            query=audit.query_of(request.query_params),
            lead_ids=[row["id"] for row in rows],
        )
        return response

    def handle_exception(self, exc):
        if isinstance(exc, DuplicateLead):
            body = {
                "detail": str(exc),
                "existing_lead": exc.existing.pk,
                "owner": exc.existing.owner_id,
            }
            return Response(body, status=status.HTTP_409_CONFLICT)
        return super().handle_exception(exc)

    # -------------------------------------------------------------- helpers

    def _lead(self, lead: Lead, code=status.HTTP_200_OK) -> Response:
        return Response(LeadSerializer(lead, context=self.get_serializer_context()).data, code)

    # -------------------------------------------------------------- entry and edit

    @extend_schema(
        request=LeadCreateSerializer,
        responses={
            201: LeadSerializer,
            409: OpenApiResponse(
                DuplicateLeadSerializer,
                description="The phone has an open lead in the store; nothing was created.",
            ),
        },
    )
    def create(self, request):
        data = self._input(LeadCreateSerializer)
        lead = services.lead_create(actor=request.user, **data)
        return self._lead(lead, status.HTTP_201_CREATED)

    @extend_schema(request=LeadUpdateSerializer, responses=LeadSerializer)
    def partial_update(self, request, pk=None):
        lead = self.get_object()
        data = self._input(LeadUpdateSerializer, partial=True)
        return self._lead(services.lead_update(actor=request.user, lead=lead, **data))

    @extend_schema(request=LevelSerializer, responses={200: LeadSerializer, 409: _CONFLICT})
    @action(detail=True, methods=["post"])
    def level(self, request, pk=None):
        lead = self.get_object()
        data = self._input(LevelSerializer)
        return self._lead(services.lead_change_level(actor=request.user, lead=lead, **data))

    # -------------------------------------------------------------- ownership

    @extend_schema(request=AssignSerializer, responses={200: LeadSerializer, 409: _CONFLICT})
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        lead = self.get_object()
        data = self._input(AssignSerializer)
        return self._lead(services.lead_assign(actor=request.user, lead=lead, **data))

    @extend_schema(request=BulkAssignSerializer, responses=BulkAssignResultSerializer)
    @action(detail=False, methods=["post"], url_path="bulk-assign")
    def bulk_assign(self, request):
        data = self._input(BulkAssignSerializer)
        result = services.leads_bulk_assign(
            actor=request.user, lead_ids=data["leads"], owners=data["owners"], reason=data["reason"]
        )
        return Response(BulkAssignResultSerializer(result).data)

    @extend_schema(
        request=TransferSerializer, responses={200: TransferResultSerializer, 409: _CONFLICT}
    )
    @action(detail=False, methods=["post"])
    def transfer(self, request):
        data = self._input(TransferSerializer)
        leads = services.leads_transfer(
            actor=request.user,
            from_staff=data["from_staff"],
            to_staff=data["to_staff"],
            reason=data["reason"],
            lead_ids=data.get("leads"),
        )
        return Response({"transferred": [lead.pk for lead in leads]})

    # -------------------------------------------------------------- defeat, activation, invalid

    @extend_schema(
        request=DefeatSerializer,
        responses={
            200: OpenApiResponse(LeadSerializer, description="Defeated."),
            202: OpenApiResponse(
                LeadSerializer, description="defeat_pending: the store needs a manager's approval."
            ),
            409: _CONFLICT,
        },
    )
    @action(detail=True, methods=["post"])
    def defeat(self, request, pk=None):
        lead = self.get_object()
        reasons = DefeatReason.objects.visible_to(request.user).for_store(lead.store)
        data = self._input(DefeatSerializer, reasons=reasons)
        lead = services.lead_defeat(actor=request.user, lead=lead, **data)
        pending = lead.status == Status.DEFEAT_PENDING
        return self._lead(lead, status.HTTP_202_ACCEPTED if pending else status.HTTP_200_OK)

    @extend_schema(request=None, responses={200: LeadSerializer, 409: _CONFLICT})
    @action(detail=True, methods=["post"], url_path="defeat/approve")
    def defeat_approve(self, request, pk=None):
        lead = self.get_object()
        return self._lead(services.lead_defeat_approve(actor=request.user, lead=lead))

    @extend_schema(request=DefeatRejectSerializer, responses={200: LeadSerializer, 409: _CONFLICT})
    @action(detail=True, methods=["post"], url_path="defeat/reject")
    def defeat_reject(self, request, pk=None):
        lead = self.get_object()
        data = self._input(DefeatRejectSerializer)
        return self._lead(services.lead_defeat_reject(actor=request.user, lead=lead, **data))

    @extend_schema(request=ActivateSerializer, responses={200: LeadSerializer, 409: _CONFLICT})
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        lead = self.get_object()
        data = self._input(ActivateSerializer)
        return self._lead(services.lead_activate(actor=request.user, lead=lead, **data))

    @extend_schema(request=MergeSerializer, responses={200: LeadSerializer, 409: _CONFLICT})
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        """Two customer records of one person: the other lead's customer (its
        phones and leads) is merged into this lead's customer."""
        lead = self.get_object()
        data = self._input(MergeSerializer)
        services.customer_merge(
            actor=request.user, keep=lead.customer, merge=data["other_lead"].customer
        )
        return self._lead(self.get_object())

    @extend_schema(request=InvalidateSerializer, responses={200: LeadSerializer, 409: _CONFLICT})
    @action(detail=True, methods=["post"])
    def invalidate(self, request, pk=None):
        lead = self.get_object()
        data = self._input(InvalidateSerializer)
        return self._lead(services.lead_invalidate(actor=request.user, lead=lead, **data))

    # -------------------------------------------------------------- deals

    @extend_schema(request=DealCreateSerializer, responses={201: DealSerializer, 409: _CONFLICT})
    @action(detail=True, methods=["post"])
    def deal(self, request, pk=None):
        lead = self.get_object()
        data = self._input(DealCreateSerializer)
        deal = services.deal_record(actor=request.user, lead=lead, **data)
        return Response(DealSerializer(deal).data, status=status.HTTP_201_CREATED)


class _StoreParam(serializers.Serializer):
    store = ScopedPrimaryKeyRelatedField(queryset=Store.objects.all(), required=False)


class DefeatReasonViewSet(ScopedViewSetMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The store's managed defeat reasons: a short list, so not paginated."""

    queryset = DefeatReason.objects.all()
    serializer_class = DefeatReasonSerializer
    pagination_class = None

    def get_queryset(self):
        return super().get_queryset().for_store(self._store())

    def _store(self) -> Store | None:
        """The caller's store, or for a group administrator ``?store=N``
        (without it: the group-wide defaults)."""
        param = _StoreParam(data=self.request.query_params, context={"request": self.request})
        param.is_valid(raise_exception=True)
        return param.validated_data.get("store") or self.request.user.store

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "store",
                OpenApiTypes.INT,
                description="Group administrators: whose list (default: the caller's store).",
            )
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)
