"""/api/v1/: every app's API views are registered on this one router."""

from csp.decorators import csp_update
from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.routers import DefaultRouter

from dcc.api import ObtainTokenView, StaffViewSet, StoreViewSet, TeamViewSet
from desk.api import LeadViewSet
from followups.api import (
    AppointmentViewSet,
    FollowUpViewSet,
    LeadAppointmentView,
    LeadFollowUpView,
    PoolClaimView,
    PoolView,
    QueueView,
)
from followups.campaigns.api import CampaignMemberViewSet, CampaignViewSet, SegmentViewSet
from followups.campaigns.api_outreach import (
    CampaignCallViewSet,
    EventInvitationViewSet,
    EventViewSet,
)
from kpi.api import KpiView
from kpi.api_campaigns import CampaignFunnelViewSet
from kpi.api_export import KpiExportView
from leads.api import DefeatReasonViewSet, VehicleModelViewSet
from leads.api_connectors import InboundLeadView, LeadConnectorViewSet
from leads.api_import import LeadImportStatusView, LeadImportTemplateView, LeadImportView
from telephony.api_urls import urlpatterns as telephony_urls


@csrf_exempt
@login_not_required
def not_found(request):
    """A path under /api/v1/ that names nothing (an id that is not a number,
    a misspelt endpoint): 404 in the API's JSON, not the site's HTML page."""
    return JsonResponse({"detail": str(NotFound.default_detail)}, status=404)


router = DefaultRouter()
router.register("stores", StoreViewSet, basename="store")
router.register("teams", TeamViewSet, basename="team")
router.register("staff", StaffViewSet, basename="staff")
router.register("vehicle-models", VehicleModelViewSet, basename="vehicle-model")
# The composed lead (desk): leads' own endpoints, its retrieve with every app's part.
router.register("leads", LeadViewSet, basename="lead")
router.register("lead-connectors", LeadConnectorViewSet, basename="lead-connector")
router.register("defeat-reasons", DefeatReasonViewSet, basename="defeat-reason")
router.register("followups", FollowUpViewSet, basename="followup")
router.register("appointments", AppointmentViewSet, basename="appointment")
router.register("segments", SegmentViewSet, basename="segment")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("campaign-members", CampaignMemberViewSet, basename="campaign-member")
# Campaign call lists, events and the funnel (issue 18).
router.register("campaign-calls", CampaignCallViewSet, basename="campaign-call")
router.register("events", EventViewSet, basename="event")
router.register("event-invitations", EventInvitationViewSet, basename="event-invitation")
router.register("kpi/campaign-funnels", CampaignFunnelViewSet, basename="campaign-funnel")

urlpatterns = [
    path("auth/token/", ObtainTokenView.as_view(), name="api-token"),
    # The contract is public (API.md): integrators read it before they hold a token.
    path("schema/", SpectacularAPIView.as_view(permission_classes=[AllowAny]), name="api-schema"),
    # Swagger UI's start-up script as a file of its own, not inline (the CSP);
    # its page keeps one inline <style> block, allowed on this page alone.
    path(
        "docs/",
        csp_update({"style-src": ["'unsafe-inline'"]})(
            SpectacularSwaggerSplitView.as_view(
                url_name="api-schema", permission_classes=[AllowAny]
            )
        ),
        name="api-docs",
    ),
    # Before the router: "import" would otherwise read as a lead id.
    path("leads/import/template/", LeadImportTemplateView.as_view(), name="lead-import-template"),
    path("leads/import/", LeadImportView.as_view(), name="lead-import"),
    path("leads/imports/<int:pk>/", LeadImportStatusView.as_view(), name="lead-import-status"),
    path("leads/inbound/<slug:connector>/", InboundLeadView.as_view(), name="lead-inbound"),
    # A lead's follow-ups and visits are logged on the lead (API.md).
    path("leads/<int:pk>/followups/", LeadFollowUpView.as_view(), name="lead-followups"),
    path("leads/<int:pk>/appointments/", LeadAppointmentView.as_view(), name="lead-appointments"),
    path("queue/", QueueView.as_view(), name="queue"),
    # The pool (公海): the store's leads waiting for a claim.
    path("pool/", PoolView.as_view(), name="pool"),
    path("pool/<int:pk>/claim/", PoolClaimView.as_view(), name="pool-claim"),
    path("kpi/export/", KpiExportView.as_view(), name="kpi-export"),
    path("kpi/", KpiView.as_view(), name="kpi"),
    *telephony_urls,
    *router.urls,
    # Last. Only paths ending in "/": one without still redirects to its "/".
    re_path(r"^.*/$", not_found),
]
