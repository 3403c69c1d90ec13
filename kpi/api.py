"""``GET /api/v1/kpi/`` (API.md "KPI"): every KPI of a scope and period.

A thin view: ``kpi.selectors`` resolves the scope the caller may read (403
for a kind of scope above their role, 404 for an id outside their scope) and
the period; ``kpi.metrics.compute`` answers the figures. Rates are
``{"numerator", "denominator", "value"}`` with ``value`` a percentage with
two decimals or null on an empty base; counts are ``{"value"}``.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from dcc.api_fields import DateField
from dcc.timeutils import in_range, range_message
from kpi import metrics, selectors
from kpi.limits import limit_report_queries


class RateSerializer(serializers.Serializer):
    numerator = serializers.IntegerField()
    denominator = serializers.IntegerField()
    value = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        coerce_to_string=False,
        allow_null=True,
        help_text="numerator ÷ denominator (× 100 for a percentage), two decimals; "
        "null when the denominator is 0.",
    )


class CountSerializer(serializers.Serializer):
    value = serializers.IntegerField()


class MetricsSerializer(serializers.Serializer):
    """One field per KPI (``kpi.metrics.KPIS``), in that order."""

    def get_fields(self):
        return {
            name: (CountSerializer if kpi.unit == metrics.COUNT else RateSerializer)(
                help_text=f"{kpi.label}: {kpi.numerator}"
                + (f" ÷ {kpi.denominator}" if kpi.denominator else "")
            )
            for name, kpi in metrics.KPIS.items()
        }


class KpiSerializer(serializers.Serializer):
    month = serializers.CharField(
        allow_null=True, help_text="YYYY-MM when the period is one whole month, else null."
    )
    since = DateField(help_text="First day of the period (local).")
    until = DateField(help_text="Last day of the period (local), inclusive.")
    scope = serializers.ChoiceField(choices=metrics.SCOPE_KINDS)
    id = serializers.IntegerField(allow_null=True, help_text="Null for the group scope.")
    metrics = MetricsSerializer()


def kpi_payload(scope: metrics.Scope, period: metrics.Period) -> dict:
    return {
        "month": period.month_label,
        "since": period.start,
        "until": period.end,
        "scope": scope.kind,
        "id": scope.id,
        "metrics": metrics.compute(scope, period),
    }


class KpiView(APIView):
    """The KPIs of one agent, team, store or the group, for a month or a date range."""

    # The capability (kpi.view) and the scope are checked by selectors.scope_for.
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="kpi_retrieve",
        parameters=[
            OpenApiParameter(
                "month", OpenApiTypes.STR, description="YYYY-MM (default: this month)."
            ),
            OpenApiParameter(
                "since", OpenApiTypes.DATE, description="Instead of month: first day."
            ),
            OpenApiParameter("until", OpenApiTypes.DATE, description="Instead of month: last day."),
            OpenApiParameter(
                "scope",
                OpenApiTypes.STR,
                enum=list(metrics.SCOPE_KINDS),
                description="agent, team, store or group (administrators); default the "
                "widest the caller may read.",
            ),
            OpenApiParameter(
                "id", OpenApiTypes.INT, description="The agent, team or store (default: yours)."
            ),
        ],
        responses={
            200: KpiSerializer,
            400: OpenApiResponse(description="A bad month, date range or id."),
            403: OpenApiResponse(description="A scope above the caller's role."),
            404: OpenApiResponse(description="An agent, team or store outside the caller's scope."),
        },
    )
    @limit_report_queries
    def get(self, request):
        params = request.query_params
        kind, id_text = params.get("scope"), params.get("id")
        if kind and kind not in metrics.SCOPE_KINDS:
            raise ValidationError({"scope": [_("Unknown scope “%(value)s”.") % {"value": kind}]})
        if id_text and not (id_text.isascii() and id_text.isdigit()):
            raise ValidationError({"id": [_("Enter a whole number.")]})
        scope = selectors.scope_for(request.user, kind, int(id_text) if id_text else None)
        try:
            period = selectors.period_from(
                month=params.get("month"), since=params.get("since"), until=params.get("until")
            )
        except DjangoValidationError as exc:
            raise ValidationError(detail=exc.message_dict) from exc
        for name, day in (("since", period.start), ("until", period.end)):
            if not in_range(day):
                raise ValidationError({"month" if params.get("month") else name: [range_message()]})
        payload = kpi_payload(scope, period)
        payload["metrics"] = {name: vars(metric) for name, metric in payload["metrics"].items()}
        return Response(KpiSerializer(payload).data)
