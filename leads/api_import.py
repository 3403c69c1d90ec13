"""The Excel import of leads over the API (API.md "Leads"): thin views over
``leads.importer``, which holds every rule."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from dcc.api_base import ScopedPrimaryKeyRelatedField
from dcc.models import Store
from dcc.policy import can, get_visible_or_404
from leads import importer
from leads.models import ImportProfile, LeadImport


class LeadImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text=(
            "The filled-in import template, or another layout whose headers are known "
            "aliases or match a saved import profile: .xlsx, .xls or .csv (UTF-8 or GBK)."
        )
    )
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
    profile = ScopedPrimaryKeyRelatedField(
        queryset=ImportProfile.objects.all(),
        required=False,
        allow_null=True,
        help_text="The import profile (column mapping) to read the file with; by default the "
        "store's profile whose header matches the file's, else the header aliases.",
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
    profile = serializers.IntegerField(
        source="profile_id", allow_null=True, help_text="The import profile used, if any."
    )
    id = serializers.IntegerField(
        source="record.pk",
        help_text="The import's history entry (GET /api/v1/leads/imports/{id}/).",
    )


class LeadImportQueuedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()


class LeadImportStatusSerializer(serializers.ModelSerializer):
    progress = serializers.IntegerField(help_text="Percent done.")
    errors = ImportErrorSerializer(many=True, help_text="The first 1,000 errors.")
    error_count = serializers.IntegerField()
    profile = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = LeadImport
        fields = [
            "id",
            "status",
            "progress",
            "rows",
            "created",
            "duplicates",
            "errors",
            "error_count",
            "rejected",
            "profile",
            "filename",
            "message",
            "created_at",
            "finished_at",
        ]


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
            202: LeadImportQueuedSerializer,
            400: OpenApiResponse(
                description="No file, an unreadable file, a bad store or profile."
            ),
            403: OpenApiResponse(description="Only supervisors, managers and admins import."),
        },
        description=(
            "Import leads from the Excel template or another layout (.xlsx, .xls, .csv). Row "
            "problems are listed in `errors` (status 200); a file with errors creates nothing "
            "unless `partial=true`. A large file answers 202 and runs in the background: "
            "follow it at `GET /api/v1/leads/imports/{id}/`."
        ),
    )
    def post(self, request):
        form = LeadImportRequestSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        upload = form.validated_data["file"]
        options = {
            "actor": request.user,
            "file": upload,
            "store": form.validated_data.get("store"),
            "partial": form.validated_data["partial"],
            "filename": upload.name,
            "profile": form.validated_data.get("profile"),
        }
        try:
            if upload.size > importer.BACKGROUND_BYTES:
                record = importer.start_import(**options)
                return Response(
                    LeadImportQueuedSerializer(record).data, status=status.HTTP_202_ACCEPTED
                )
            result = importer.lead_import(**options)
        except importer.ImportFileError as exc:
            raise ValidationError({"file": [str(exc)]}) from exc
        except DjangoValidationError as exc:
            raise ValidationError(serializers.as_serializer_error(exc)) from exc
        return Response(LeadImportResultSerializer(result).data)


class LeadImportStatusView(_ImportPermission, APIView):
    @extend_schema(
        operation_id="leads_imports_retrieve",
        responses={200: LeadImportStatusSerializer, 404: OpenApiResponse(description="Not yours.")},
        description="An import's status and progress (one run in the background above all).",
    )
    def get(self, request, pk):
        record = get_visible_or_404(LeadImport, request.user, pk=pk)
        return Response(LeadImportStatusSerializer(record).data)


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
