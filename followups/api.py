"""Follow-up, appointment and queue endpoints (API.md "Follow-ups,
appointments, deals"): thin views over ``followups.services`` and
``followups.selectors``.

Each view resolves its input with a serializer, fetches the lead or the
appointment through the scoped queryset (404 outside the caller's scope),
calls one service and maps its outcome like ``leads.api``:
``ValidationError`` → 400 per field (``dcc.api_base``), ``PermissionDenied``
→ 403, ``LeadStateError`` (the lead's or the appointment's state forbids it)
→ 409.
"""

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from dcc.api_base import CapabilityPermission, Pagination, ScopedViewSetMixin
from followups import pool as pool_rules
from followups import selectors, services
from followups.filters import AppointmentFilter, FollowUpFilter
from followups.models import Appointment, FollowUp, Result
from followups.serializers import (
    AppointmentBookSerializer,
    AppointmentPendingSerializer,
    AppointmentSerializer,
    ArriveSerializer,
    CancelSerializer,
    FollowUpCreateSerializer,
    FollowUpLoggedSerializer,
    FollowUpSerializer,
    QueueItemSerializer,
    RescheduleSerializer,
)
from leads.api import ServiceViewMixin
from leads.models import DefeatReason, Lead
from leads.serializers import ConflictSerializer

_CONFLICT = OpenApiResponse(
    ConflictSerializer, description="The lead's or the appointment's state forbids this."
)
_BOOKING_CONFLICT = OpenApiResponse(
    AppointmentPendingSerializer,
    description="The lead's state forbids this, or (code appointment_pending) the lead "
    "already has a pending visit: reschedule or cancel it instead.",
)
# The defeat reason used when a "defeated" follow-up names none (the note says why).
DEFAULT_DEFEAT_REASON = "other"


def _followups():
    return FollowUp.objects.select_related("lead", "agent")


def _appointments():
    return Appointment.objects.select_related(
        "lead__customer", "agent", "receiver"
    ).prefetch_related("sms")


# ---------------------------------------------------------------- on a lead


class _LeadActionView(ServiceViewMixin, ScopedViewSetMixin, generics.GenericAPIView):
    """A POST on ``leads/{id}/…``: the lead is fetched in the caller's scope.
    A booking while the lead has a pending visit answers 409 with the code
    ``appointment_pending`` and the visit (to reschedule or cancel it)."""

    queryset = Lead.objects.select_related("store")

    def handle_exception(self, exc):
        if isinstance(exc, services.AppointmentPending):
            body = {
                "detail": exc.detail,
                "code": exc.code,
                "existing_appointment": exc.existing.pk,
                "scheduled_at": serializers.DateTimeField().to_representation(
                    exc.existing.scheduled_at
                ),
            }
            return Response(body, status=status.HTTP_409_CONFLICT)
        return super().handle_exception(exc)


class LeadFollowUpView(_LeadActionView):
    serializer_class = FollowUpCreateSerializer

    @extend_schema(
        operation_id="leads_followups_create",
        request=FollowUpCreateSerializer,
        responses={201: FollowUpLoggedSerializer, 409: _BOOKING_CONFLICT},
    )
    def post(self, request, pk=None):
        """Log a contact attempt; its result moves the lead (reached → active,
        invited → invited with the visit booked when given, defeated →
        defeated or defeat_pending, invalid → invalid)."""
        lead = self.get_object()
        reasons = DefeatReason.objects.visible_to(request.user).for_store(lead.store)
        data = dict(self._input(FollowUpCreateSerializer, reasons=reasons))
        if data["result"] == Result.DEFEATED and data.get("defeat_reason") is None:
            # None left when the store has no "other": the service asks for one.
            data["defeat_reason"] = reasons.filter(code=DEFAULT_DEFEAT_REASON).first()
        followup = services.followup_log(actor=request.user, lead=lead, **data)
        followup = _followups().get(pk=followup.pk)
        followup.appointment = None
        if data.get("appointment"):
            followup.appointment = (
                _appointments().filter(lead=lead, created_by=request.user).order_by("-pk").first()
            )
        body = FollowUpLoggedSerializer(followup, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)


class LeadAppointmentView(_LeadActionView):
    serializer_class = AppointmentBookSerializer

    @extend_schema(
        operation_id="leads_appointments_create",
        request=AppointmentBookSerializer,
        responses={201: AppointmentSerializer, 409: _BOOKING_CONFLICT},
    )
    def post(self, request, pk=None):
        """Book a store visit: the lead becomes invited; the booking SMS to the
        customer and the receiver and the day-before reminder are queued."""
        lead = self.get_object()
        data = self._input(AppointmentBookSerializer)
        appointment = services.appointment_book(actor=request.user, lead=lead, **data)
        appointment = _appointments().get(pk=appointment.pk)
        body = AppointmentSerializer(appointment, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)


# ---------------------------------------------------------------- lists


class FollowUpViewSet(
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Logged follow-ups in the caller's scope, newest first."""

    queryset = _followups()
    serializer_class = FollowUpSerializer
    filterset_class = FollowUpFilter
    lookup_value_regex = r"\d+"


class AppointmentViewSet(
    ServiceViewMixin,
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Store visits in the caller's scope (a consultant: also those handed to
    them), by time; and what happens to them."""

    queryset = _appointments()
    serializer_class = AppointmentSerializer
    filterset_class = AppointmentFilter
    lookup_value_regex = r"\d+"

    def _done(self, appointment: Appointment) -> Response:
        appointment = self.get_queryset().get(pk=appointment.pk)
        return Response(self.get_serializer(appointment).data)

    @extend_schema(request=None, responses={200: AppointmentSerializer, 409: _CONFLICT})
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        """The customer confirmed the visit (the day-before call)."""
        appointment = self.get_object()
        return self._done(services.appointment_confirm(actor=request.user, appointment=appointment))

    @extend_schema(
        request=RescheduleSerializer, responses={200: AppointmentSerializer, 409: _CONFLICT}
    )
    @action(detail=True, methods=["post"])
    def reschedule(self, request, pk=None):
        """A new time: the pending SMS are cancelled and planned again."""
        appointment = self.get_object()
        data = self._input(RescheduleSerializer)
        return self._done(
            services.appointment_reschedule(actor=request.user, appointment=appointment, **data)
        )

    @extend_schema(request=CancelSerializer, responses={200: AppointmentSerializer, 409: _CONFLICT})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        appointment = self.get_object()
        data = self._input(CancelSerializer)
        return self._done(
            services.appointment_cancel(actor=request.user, appointment=appointment, **data)
        )

    @extend_schema(request=ArriveSerializer, responses={200: AppointmentSerializer, 409: _CONFLICT})
    @action(detail=True, methods=["post"])
    def arrive(self, request, pk=None):
        """The customer came: the lead becomes visited."""
        appointment = self.get_object()
        data = self._input(ArriveSerializer)
        return self._done(
            services.appointment_arrive(actor=request.user, appointment=appointment, **data)
        )

    @extend_schema(request=None, responses={200: AppointmentSerializer, 409: _CONFLICT})
    @action(detail=True, methods=["post"], url_path="no-show")
    def no_show(self, request, pk=None):
        """The customer did not come: the lead goes back to follow-up."""
        appointment = self.get_object()
        return self._done(services.appointment_no_show(actor=request.user, appointment=appointment))


# ---------------------------------------------------------------- queue


class QueuePagination(Pagination):
    """The queue's pages (API.md): ``results`` and ``next``/``previous``,
    50 items by default, ``page_size`` up to 200. No ``count``: the queue is
    ranked afresh on every request from the agent's whole book, and counting
    it would cost a second pass over every open lead of theirs for a number
    that changes as they work; a page instead reads only the rows up to its
    end, plus one to know whether there is a next page."""

    max_page_size = 200

    def paginate_queue(self, request, fetch) -> list:
        """The requested page of ``fetch(total=n)`` (the queue's first ``n``
        rows, most urgent first)."""
        self.request = request
        size = self.get_page_size(request)
        try:
            number = int(request.query_params.get(self.page_query_param, 1))
        except (TypeError, ValueError):
            number = 0
        if number < 1:
            raise NotFound(self.invalid_page_message)
        end = number * size
        rows = fetch(total=end + 1)
        page = rows[end - size : end]
        if number > 1 and not page:
            raise NotFound(self.invalid_page_message)
        self.number, self.has_next = number, len(rows) > end
        return page

    def get_paginated_response(self, data):
        return Response(
            {
                "next": self._link(self.number + 1) if self.has_next else None,
                "previous": self._link(self.number - 1) if self.number > 1 else None,
                "results": data,
            }
        )

    def _link(self, number: int) -> str:
        url = self.request.build_absolute_uri()
        if number == 1:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, number)

    def get_paginated_response_schema(self, schema):
        page = super().get_paginated_response_schema(schema)
        del page["properties"]["count"]
        page["required"] = ["results"]
        return page


class QueueView(APIView):
    """Today's call queue of the caller: their own leads only, a page at a time."""

    permission_classes = [IsAuthenticated]
    pagination_class = QueuePagination  # read by the schema too

    @extend_schema(responses=QueueItemSerializer(many=True))
    def get(self, request):
        now = timezone.now()
        paginator = self.pagination_class()
        items = paginator.paginate_queue(
            request,
            lambda total: selectors.queue_for_agent(agent=request.user, now=now, total=total),
        )
        data = QueueItemSerializer(items, many=True, context={"request": request, "now": now}).data
        return paginator.get_paginated_response(data)


# ---------------------------------------------------------------- the pool (公海)


class PoolLeadSerializer(serializers.ModelSerializer):
    """A pool lead as any of the store's staff may see it: the phone masked."""

    customer_name = serializers.CharField(source="customer.name", read_only=True)
    phone_masked = serializers.CharField(read_only=True)

    class Meta:
        model = Lead
        fields = [
            "id",
            "customer_name",
            "phone_masked",
            "source",
            "channel",
            "intended_model",
            "level",
            "pooled_at",
            "pool_reason",
        ]
        read_only_fields = fields


class PoolView(generics.ListAPIView):
    """The caller's store's pool, oldest first (``leads.pool.view``)."""

    permission_classes = [IsAuthenticated, CapabilityPermission]
    capabilities = {None: "leads.pool.view"}
    serializer_class = PoolLeadSerializer

    def get_queryset(self):
        return (
            Lead.objects.pool_for(self.request.user)
            .select_related("customer")
            .order_by("pooled_at", "id")
        )


class PoolClaimView(ServiceViewMixin, APIView):
    """Claim a pool lead: 200 with the lead, 409 when someone was faster,
    400 over the store's daily cap, 404 outside the caller's store."""

    permission_classes = [IsAuthenticated, CapabilityPermission]
    capabilities = {None: "leads.pool.claim"}

    @extend_schema(
        request=None,
        responses={
            200: PoolLeadSerializer,
            400: OpenApiResponse(description="Daily cap"),
            409: _CONFLICT,
        },
    )
    def post(self, request, pk: int):
        user = request.user
        if not user.store_id or not Lead.objects.filter(pk=pk, store_id=user.store_id).exists():
            raise NotFound()
        lead = pool_rules.claim(actor=user, lead_id=pk)
        return Response(PoolLeadSerializer(lead).data)
