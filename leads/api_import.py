"""The Excel import of leads over the API (API.md "Leads"): thin views over
``leads.importer``, which holds every rule."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from dcc.api_base import ScopedPrimaryKeyRelatedField
from dcc.models import Store
from dcc.policy import can
from leads import importer


class LeadImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The filled-in import template (.xlsx).")
    partial = serializers.BooleanField(
        default=False,
        help_text="Create the good rows even when other rows have errors.",
    )
    # Scoped: a store outside the caller's scope is a 400 on this field.
    store = ScopedPrimaryKeyRelatedField(
        queryset=Store.objects.all(),
        required=False,
        allow_null=True,
        help_text="The store to import into; only a group administrator needs it.",
    )


class ImportErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="The Excel row number; the header is row 1.")
    field = serializers.CharField(help_text="The API field name of the column.")
    message = serializers.CharField()


class DuplicateRowSerializer(serializers.Serializer):
    row = serializers.IntegerField()
    phone = serializers.CharField()
    existing_lead = serializers.IntegerField(source="existing_lead_id", allow_null=True)
    owner = serializers.IntegerField(source="owner_id", allow_null=True)
    owner_name = serializers.CharField()
    first_row = serializers.IntegerField(
        allow_null=True, help_text="Set when the phone repeats an earlier row of the file."
    )


class LeadImportResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField(source="duplicate_count")
    errors = ImportErrorSerializer(many=True)
    duplicate_rows = DuplicateRowSerializer(source="duplicates", many=True)
    rows = serializers.IntegerField(help_text="Data rows read (blank rows are skipped).")
    store = serializers.IntegerField(source="store.pk")


class CanImportLeads(BasePermission):
    """The policy's "leads.import" (supervisor, manager, admin): 403 otherwise.
    ``CapabilityPermission`` keys capabilities by a viewset's action, which a
    plain APIView does not have."""

    def has_permission(self, request, view):
        return can(request.user, "leads.import")


class _ImportPermission:
    permission_classes = [IsAuthenticated, CanImportLeads]


class LeadImportView(_ImportPermission, APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="leads_import",
        request={"multipart/form-data": LeadImportRequestSerializer},
        responses={
            200: LeadImportResultSerializer,
            400: OpenApiResponse(description="No file, an unreadable file or a bad store."),
            403: OpenApiResponse(description="Only supervisors, managers and admins import."),
        },
        description=(
            "Import leads from the Excel template. Row problems are listed in `errors` "
            "(status 200); a file with errors creates nothing unless `partial=true`."
        ),
    )
    def post(self, request):
        form = LeadImportRequestSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        upload = form.validated_data["file"]
        try:
            result = importer.lead_import(
                actor=request.user,
                file=upload,
                store=form.validated_data.get("store"),
                partial=form.validated_data["partial"],
                filename=upload.name,
            )
        except importer.ImportFileError as exc:
            raise ValidationError({"file": [str(exc)]}) from exc
        return Response(LeadImportResultSerializer(result).data)


class LeadImportTemplateView(_ImportPermission, APIView):
    @extend_schema(
        operation_id="leads_import_template",
        responses={(200, importer.XLSX_CONTENT_TYPE): OpenApiTypes.BINARY},
        description="The Excel template that the import reads.",
    )
    def get(self, request):
        return template_response()


def template_response() -> HttpResponse:
    response = HttpResponse(importer.template_workbook(), content_type=importer.XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{importer.TEMPLATE_FILENAME}"'
    return response
