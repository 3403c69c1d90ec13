"""The composed lead-detail API: ``GET /api/v1/leads/{id}/`` answers the lead
with its follow-ups, appointments, deals, calls and timeline. Every other
lead endpoint is leads' own (``leads.api.LeadViewSet``); ``dcc.api_urls``
registers this subclass in its place."""

from desk.serializers import LeadDetailSerializer
from leads.api import LeadViewSet as LeadOwnViewSet


class LeadViewSet(LeadOwnViewSet):
    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("deals")
        return queryset

    def get_serializer_class(self):
        if self.action == "retrieve":
            return LeadDetailSerializer
        return super().get_serializer_class()
