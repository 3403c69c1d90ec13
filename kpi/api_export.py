"""``GET /api/v1/kpi/export/?month=YYYY-MM&store=N`` (API.md "KPI"): a store's
monthly workbook (``kpi.export``), served like the page's download
(``kpi.views_export.workbook_response``).

403 without ``kpi.export`` (agents, callers, consultants); 404 for a store
outside the caller's stores (or, for a supervisor, without a team there);
400 for a missing or bad month or store id. A caller with a store of their
own may leave ``store`` out. What the workbook holds is the reader's scope
(``kpi.views_export``): a supervisor's is their team's.
"""

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.views import APIView

from dcc.policy import can
from dcc.timeutils import in_range, range_message
from kpi import export
from kpi.limits import limit_report_queries
from kpi.metrics import Period
from kpi.views_export import export_scope, workbook_response


class CanExport(BasePermission):
    """The policy's ``kpi.export``: 403 otherwise."""

    def has_permission(self, request, view):
        return can(request.user, "kpi.export")


class KpiExportView(APIView):
    permission_classes = [IsAuthenticated, CanExport]

    @extend_schema(
        operation_id="kpi_export",
        parameters=[
            OpenApiParameter("month", OpenApiTypes.STR, required=True, description="YYYY-MM."),
            OpenApiParameter(
                "store", OpenApiTypes.INT, description="The store (default: the caller's)."
            ),
        ],
        responses={
            (200, export.XLSX_CONTENT_TYPE): OpenApiTypes.BINARY,
            400: OpenApiResponse(description="A missing or bad month, or a bad store id."),
            403: OpenApiResponse(description="Only supervisors, managers and admins export."),
            404: OpenApiResponse(description="A store outside the caller's stores."),
        },
        description=(
            "The store's monthly KPI workbook (.xlsx): sheets 门店汇总 (store summary), "
            "团队 (teams and their scorecards), 坐席明细 (agent detail) and 渠道统计 "
            "(channel statistics). A month that has ended is answered with the workbook "
            "kept on the 1st when there is one; any other month is built now. A "
            "supervisor gets their team's workbook (团队汇总 in place of the store "
            "summary, their team and its members only), always built now."
        ),
    )
    @limit_report_queries
    def get(self, request):
        params = request.query_params
        errors = {}
        try:
            period = Period.parse_month(params.get("month", ""))
        except ValueError:
            errors["month"] = [_("Enter a month as YYYY-MM.")]
        else:
            if not in_range(period.start):
                errors["month"] = [range_message()]
        store_text = params.get("store")
        if store_text and not (store_text.isascii() and store_text.isdigit()):
            errors["store"] = [_("Enter a whole number.")]
        if errors:
            raise ValidationError(errors)
        scope = export_scope(request.user, int(store_text) if store_text else None)
        return workbook_response(request.user, scope, period)
