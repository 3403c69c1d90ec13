"""/api/v1/ telephony endpoints (API.md "Telephony"): recordings. Routes in
``urlpatterns``, collected by telephony.api_urls.

- ``POST /api/v1/telephony/recordings/``: multipart ``file`` and the call's
  metadata (or only a call's ``uniqueid``; a FreePBX file name says it all)
  → 201 with the recording; the same file or uniqueid again → 200 with the
  stored one (``duplicate: true``). Needs ``telephony.import`` (403).
- ``GET /api/v1/recordings/`` (filters ``lead``, ``agent``, ``call``,
  ``direction``, ``started_after``, ``started_before``) and
  ``GET /api/v1/recordings/{id}/``: scoped like the lead (404 / filtered out).
- ``GET /api/v1/recordings/{id}/audio/``: the audio, with HTTP ranges and
  ``?download=1``; every play and download is logged (``via="api"``). The
  same function serves the pages (``telephony.playback``).
"""

import django_filters
from django.urls import path, reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from dcc.api_base import ScopedPrimaryKeyRelatedField, ScopedViewSetMixin
from dcc.api_fields import DateTimeField, IsoDateTimeFilter, ModelSerializer
from dcc.models import Store
from dcc.policy import can
from telephony import playback
from telephony.models import Direction, Recording
from telephony.parsers import MAX_SECONDS
from telephony.recordings import recording_add


class RecordingSerializer(ModelSerializer):
    audio = serializers.SerializerMethodField(help_text="The audio's URL (scoped, logged).")

    class Meta:
        model = Recording
        fields = [
            "id",
            "store",
            "call",
            "lead",
            "agent",
            "started_at",
            "duration",
            "direction",
            "extension",
            "external_number",
            "original_name",
            "size",
            "content_type",
            "created_at",
            "audio",
        ]
        read_only_fields = fields

    def get_audio(self, recording) -> str:
        url = reverse("recording-audio", args=[recording.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class RecordingAddedSerializer(RecordingSerializer):
    duplicate = serializers.BooleanField(
        help_text="True: this file or uniqueid was stored before; nothing was added."
    )

    class Meta(RecordingSerializer.Meta):
        fields = [*RecordingSerializer.Meta.fields, "duplicate"]
        read_only_fields = fields


class RecordingUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="WAV, MP3, Ogg/Opus, M4A/AAC or FLAC.")
    uniqueid = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="The call's uniqueid (Asterisk); links the recording to an imported call.",
    )
    started_at = DateTimeField(
        required=False,
        allow_null=True,
        help_text="When the call started; not needed with a FreePBX file name or a known call.",
    )
    direction = serializers.ChoiceField(choices=Direction.choices, required=False, allow_blank=True)
    extension = serializers.CharField(
        required=False, allow_blank=True, max_length=20, help_text="The agent's extension."
    )
    external_number = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=40,
        help_text="The customer's number as the PBX wrote it (a dialling prefix is removed).",
    )
    duration = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=MAX_SECONDS,
        help_text="Seconds; read from a WAV header.",
    )
    store = ScopedPrimaryKeyRelatedField(
        queryset=Store.objects.all(),
        required=False,
        allow_null=True,
        help_text="The store; only a group administrator needs it.",
    )


class CanImport(BasePermission):
    """``telephony.import`` (supervisor, manager, admin): 403 otherwise."""

    def has_permission(self, request, view):
        return can(request.user, "telephony.import")


class RecordingUploadView(APIView):
    permission_classes = [IsAuthenticated, CanImport]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="telephony_recordings_create",
        request={"multipart/form-data": RecordingUploadSerializer},
        responses={
            201: RecordingAddedSerializer,
            200: OpenApiResponse(
                RecordingAddedSerializer, description="Stored before: the existing recording."
            ),
            400: OpenApiResponse(description="Not audio, too big, or the call's time unknown."),
            403: OpenApiResponse(description="Only supervisors, managers and admins add."),
        },
    )
    def post(self, request):
        """Add a call recording. Metadata comes from the fields given, else
        the FreePBX file name, else the imported call with this uniqueid; the
        agent and the lead from the call, else the extension and the number."""
        form = RecordingUploadSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        data = form.validated_data
        store = data.get("store") or request.user.store
        if store is None:
            raise ValidationError({"store": [_("Name the store.")]})
        upload = data["file"]
        added = recording_add(
            actor=request.user,
            store=store,
            file=upload,
            name=upload.name,
            uniqueid=data.get("uniqueid"),
            started_at=data.get("started_at"),
            direction=data.get("direction"),
            extension=data.get("extension"),
            external_number=data.get("external_number"),
            duration=data.get("duration"),
            via="api",
        )
        recording = added.recording
        recording.duplicate = not added.created
        body = RecordingAddedSerializer(recording, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED if added.created else 200)


class RecordingFilter(django_filters.FilterSet):
    lead = django_filters.NumberFilter(field_name="lead_id")
    agent = django_filters.NumberFilter(field_name="agent_id")
    call = django_filters.NumberFilter(field_name="call_id")
    direction = django_filters.ChoiceFilter(choices=Direction.choices)
    started_after = IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")

    class Meta:
        model = Recording
        fields = []


class RecordingViewSet(
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Recordings in the caller's scope (like their calls' leads), newest first."""

    queryset = Recording.objects.order_by("-started_at", "-pk")
    serializer_class = RecordingSerializer
    filterset_class = RecordingFilter


class RecordingAudioView(ScopedViewSetMixin, generics.GenericAPIView):
    queryset = Recording.objects.all()  # fetched, scoped, by playback.serve_recording

    def perform_content_negotiation(self, request, force=False):
        # The answer is the file whatever the client accepts (audio/*, …);
        # errors are JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="recordings_audio",
        parameters=[
            OpenApiParameter("download", OpenApiTypes.BOOL, description="Answer as an attachment."),
            OpenApiParameter(
                "Range",
                OpenApiTypes.STR,
                location=OpenApiParameter.HEADER,
                description="One byte range, e.g. bytes=1000- (206 Partial Content).",
            ),
        ],
        responses={
            (200, "audio/*"): OpenApiTypes.BINARY,
            (206, "audio/*"): OpenApiTypes.BINARY,
            404: OpenApiResponse(description="No such recording in the caller's scope."),
            416: OpenApiResponse(description="The range lies past the end of the file."),
        },
    )
    def get(self, request, pk=None):
        """The recording's audio. A request from byte 0 (or without a range)
        is logged as a play, a seek (a later range) is not; every download
        is logged."""
        return playback.serve_recording(request, pk, user=request.user, via="api")


urlpatterns = [
    path("telephony/recordings/", RecordingUploadView.as_view(), name="recording-upload"),
    path(
        "recordings/",
        RecordingViewSet.as_view({"get": "list"}),
        name="recording-list",
    ),
    path(
        "recordings/<int:pk>/",
        RecordingViewSet.as_view({"get": "retrieve"}),
        name="recording-detail",
    ),
    path("recordings/<int:pk>/audio/", RecordingAudioView.as_view(), name="recording-audio"),
]
